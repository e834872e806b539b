package crilog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fixedClock returns t0, t0+1s, t0+2s, ... so records have known times.
func fixedClock(t0 time.Time) func() time.Time {
	var n atomic.Int64
	return func() time.Time { return t0.Add(time.Duration(n.Add(1)-1) * time.Second) }
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC)

func TestWriter(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes)
	tests := []struct {
		name   string
		writes []string
		close  bool
		want   []string // "<stream> <tag> <content>" per record
	}{
		{"one line", []string{"hello\n"}, false, []string{"stdout F hello"}},
		{"two lines one write", []string{"a\nb\n"}, false, []string{"stdout F a", "stdout F b"}},
		{"line across writes", []string{"he", "llo\nwor", "ld\n"}, false, []string{"stdout F hello", "stdout F world"}},
		{"empty line", []string{"\n"}, false, []string{"stdout F "}},
		{"trailing partial kept", []string{"abc"}, false, nil},
		{"trailing partial on close", []string{"abc"}, true, []string{"stdout P abc"}},
		{"exactly max is full", []string{long + "\n"}, false, []string{"stdout F " + long}},
		{"over max split", []string{long + "yz\n"}, false, []string{"stdout P " + long, "stdout F yz"}},
		{"open line over max", []string{long + long + "q"}, true, []string{"stdout P " + long, "stdout P " + long, "stdout P q"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf, Stdout).(*writer)
			w.now = fixedClock(t0)
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if tt.close {
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for i, line := range strings.SplitAfter(buf.String(), "\n") {
				if line == "" {
					continue
				}
				ts, rest, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
				if want := t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano); ts != want {
					t.Errorf("record %d timestamp %q, want %q", i, ts, want)
				}
				got = append(got, rest)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("records:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestWritersShareFile checks that a stdout and a stderr writer appending
// to one O_APPEND file never interleave inside a record.
func TestWritersShareFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wg sync.WaitGroup
	for _, stream := range []string{Stdout, Stderr} {
		w := NewWriter(f, stream)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				w.Write([]byte(stream + "-" + strings.Repeat("z", 300) + "\n"))
			}
			w.Close()
		}()
	}
	wg.Wait()
	var out, errOut bytes.Buffer
	if err := ReadLogs(context.Background(), path, ReadOptions{TailLines: -1}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*bytes.Buffer{Stdout: &out, Stderr: &errOut} {
		want := strings.Repeat(name+"-"+strings.Repeat("z", 300)+"\n", 500)
		if b.String() != want {
			t.Errorf("%s: got %d bytes, want %d identical lines", name, b.Len(), 500)
		}
	}
}

// sampleLog is a log file as containerd writes it.
const sampleLog = `2026-01-02T03:04:05.1Z stdout F one
2026-01-02T03:04:06.123456789Z stderr F two
2026-01-02T03:04:07Z stdout P thr
2026-01-02T03:04:08Z stdout F ee
not a cri line
2026-01-02T03:04:09Z stdout F four
2026-01-02T03:04:10Z stderr F five
`

func TestReadLogs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(sampleLog), 0o640); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		opts        ReadOptions
		out, errOut string
	}{
		{"all", ReadOptions{TailLines: -1}, "one\nthree\nfour\n", "two\nfive\n"},
		{"stdout only", ReadOptions{TailLines: -1, Stream: Stdout}, "one\nthree\nfour\n", ""},
		{"stderr only", ReadOptions{TailLines: -1, Stream: Stderr}, "", "two\nfive\n"},
		{"tail 2", ReadOptions{TailLines: 2}, "four\n", "five\n"},
		{"tail 0", ReadOptions{TailLines: 0}, "", ""},
		{"tail more than there", ReadOptions{TailLines: 100}, "one\nthree\nfour\n", "two\nfive\n"},
		{"since", ReadOptions{TailLines: -1, Since: time.Date(2026, 1, 2, 3, 4, 9, 0, time.UTC)}, "four\n", "five\n"},
		{"limit bytes", ReadOptions{TailLines: -1, LimitBytes: 6}, "one\n", "tw"},
		{"limit mid stream", ReadOptions{TailLines: -1, LimitBytes: 5}, "one\n", "t"},
		{"timestamps", ReadOptions{TailLines: -1, Timestamps: true},
			"2026-01-02T03:04:05.100000000Z one\n2026-01-02T03:04:07.000000000Z three\n2026-01-02T03:04:09.000000000Z four\n",
			"2026-01-02T03:04:06.123456789Z two\n2026-01-02T03:04:10.000000000Z five\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := ReadLogs(context.Background(), path, tt.opts, &out, &errOut); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.out || errOut.String() != tt.errOut {
				t.Errorf("got stdout %q stderr %q, want %q %q", out.String(), errOut.String(), tt.out, tt.errOut)
			}
		})
	}
}

func TestReadLogsMissing(t *testing.T) {
	err := ReadLogs(context.Background(), filepath.Join(t.TempDir(), "none.log"), ReadOptions{TailLines: -1}, &bytes.Buffer{}, &bytes.Buffer{})
	if !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("err = %v, want not-exist", err)
	}
}

func TestTailStart(t *testing.T) {
	tests := []struct {
		content string
		n       int64
		want    string
	}{
		{"", 3, ""},
		{"a\nb\nc\n", 1, "c\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 3, "a\nb\nc\n"},
		{"a\nb\nc\n", 9, "a\nb\nc\n"},
		{"a\nb\nc", 1, "c"},
		{strings.Repeat("l\n", 5000), 4000, strings.Repeat("l\n", 4000)},
	}
	for _, tt := range tests {
		start, err := tailStart(strings.NewReader(tt.content), int64(len(tt.content)), tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if got := tt.content[start:]; got != tt.want {
			t.Errorf("tail %d of %.20q = %.20q (len %d), want len %d", tt.n, tt.content, got, len(got), len(tt.want))
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReadLogsFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f, Stdout)
	w.Write([]byte("before\n"))

	var running atomic.Bool
	running.Store(true)
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- ReadLogs(context.Background(), path, ReadOptions{Follow: true, TailLines: -1, Running: running.Load}, &out, &out)
	}()
	waitFor(t, "first line", func() bool { return out.String() == "before\n" })
	w.Write([]byte("par"))
	w.Write([]byte("tial then\nafter\n"))
	waitFor(t, "followed lines", func() bool { return out.String() == "before\npartial then\nafter\n" })
	// A last line written just before the container stops still shows.
	w.Write([]byte("last\n"))
	running.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after the container stopped")
	}
	if got, want := out.String(), "before\npartial then\nafter\nlast\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadLogsFollowContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ReadLogs(ctx, path, ReadOptions{Follow: true, TailLines: -1}, &bytes.Buffer{}, &bytes.Buffer{})
	}()
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end with its context")
	}
}

func TestReadLogsFollowRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	if err := os.WriteFile(path, []byte("2026-01-02T03:04:05Z stdout F old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- ReadLogs(ctx, path, ReadOptions{Follow: true, TailLines: -1}, &out, &out)
	}()
	waitFor(t, "old line", func() bool { return out.String() == "old\n" })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("2026-01-02T03:04:06Z stdout F new\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "line of the new file", func() bool { return out.String() == "old\nnew\n" })
	cancel()
	<-done
}
