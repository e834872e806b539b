package main

import (
	"os"
	"testing"
)

func TestCPUTimeOfThisProcess(t *testing.T) {
	// Burn a little CPU so that the figure is not trivially zero on a
	// fast machine; the check is only that it parses and is sane.
	x := 0
	for i := range 50_000_000 {
		x += i
	}
	_ = x
	d, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d < 0 {
		t.Fatalf("cpu time %v", d)
	}
}
