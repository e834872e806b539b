// Command build writes mini's test images (see package testimages) as
// docker-archive tars under -out and prints their paths, one a line.
// scripts/build-test-images runs it.
package main

import (
	"flag"
	"fmt"
	"os"

	"mini.dev/mini/internal/testimages"
)

func main() {
	out := flag.String("out", "", "directory to write the image tars to (required)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: build -out DIR")
		os.Exit(2)
	}
	paths, err := testimages.All(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "build-test-images:", err)
		os.Exit(1)
	}
	for _, p := range paths {
		fmt.Println(p)
	}
}
