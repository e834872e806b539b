package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRotatingLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	l, err := openRotatingLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	clock := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	l.maxSize, l.keep = 100, 3
	l.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	line := strings.Repeat("x", 39) + "\n" // 40 bytes: two fit, the third rotates
	for range 20 {
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(path + "*")
	if len(files) != 3 {
		t.Fatalf("files %v, want the current one and 2 rotated", files)
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Size() > 100 || st.Size()%40 != 0 {
			t.Fatalf("%s: %v, size %d: want whole lines, at most the limit", f, err, st.Size())
		}
	}
	// Reopening keeps appending and counts what is there.
	l.Close()
	l2, err := openRotatingLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if st, _ := os.Stat(path); l2.size != st.Size() {
		t.Fatalf("reopened size %d, file %d", l2.size, st.Size())
	}
}
