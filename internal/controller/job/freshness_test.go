package job

import "testing"

func TestWrittenVersions(t *testing.T) {
	w := newWrittenVersions()
	if w.stale("k", "5") {
		t.Fatal("nothing written: never stale")
	}
	w.wrote("k", "10")
	w.wrote("k", "8") // an older write does not lower the mark
	for _, tt := range []struct {
		rv   string
		want bool
	}{{"9", true}, {"abc", false}, {"9", false}} {
		if got := w.stale("k", tt.rv); got != tt.want {
			t.Fatalf("stale(%s) = %v, want %v", tt.rv, got, tt.want)
		}
	}
	w.wrote("k", "12")
	if !w.stale("k", "11") || w.stale("k", "12") || w.stale("k", "11") {
		t.Fatal("caught up at 12: forgotten")
	}
}
