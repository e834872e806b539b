package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test runs a child process that writes under load and reports,
// on stdout, each write it is about to make ("try") and each write the store
// acknowledged ("ack"). The parent kills the child with SIGKILL at a random
// moment, reopens the store and checks that every acknowledged write is
// there, that each key holds either its last acknowledged value or the one
// write that was in flight, and that no value is torn.

const crashDirEnv = "MINI_STORE_CRASH_DIR"

const (
	crashWriters = 16
	crashKeys    = 8 // keys per writer
)

func TestCrashRecovery(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	dir := t.TempDir() // one data dir across all rounds: each reopen follows a crash
	for round := range rounds {
		acked, tried := runCrashChild(t, dir, time.Duration(50+rand.IntN(400))*time.Millisecond)
		checkCrashState(t, dir, round, acked, tried)
	}
}

// crashWrite is one line of the child's report.
type crashWrite struct {
	op    string // create, update, delete
	key   string
	value string // "" for deletes
	rev   int64  // for acks
}

// runCrashChild runs the child for about d, kills it and returns, per key,
// the last acknowledged write and the last write tried after it.
func runCrashChild(t *testing.T, dir string, d time.Duration) (acked, tried map[string]crashWrite) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-started:
		case <-time.After(20 * time.Second):
		}
		time.Sleep(d) // the random moment of the crash
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		close(killed)
	}()
	acked, tried = map[string]crashWrite{}, map[string]crashWrite{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Split(sc.Text(), " ")
		if len(f) != 5 || (f[0] != "try" && f[0] != "ack") {
			continue
		}
		once.Do(func() { close(started) })
		w := crashWrite{op: f[1], key: f[2], value: f[3]}
		if w.value == "-" {
			w.value = ""
		}
		w.rev, _ = strconv.ParseInt(f[4], 10, 64)
		if f[0] == "try" {
			tried[w.key] = w
		} else {
			acked[w.key] = w
			delete(tried, w.key)
		}
	}
	once.Do(func() { close(started) })
	<-killed
	cmd.Wait()
	if len(acked) == 0 {
		t.Fatalf("child acknowledged no write before the kill after %v", d)
	}
	return acked, tried
}

func checkCrashState(t *testing.T, dir string, round int, acked, tried map[string]crashWrite) {
	t.Helper()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	res, err := s.List(context.Background(), "/crash/", ListOptions{})
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	have := map[string]KV{}
	for _, kv := range res.KVs {
		if !crashValueOK(kv.Key, string(kv.Value)) {
			t.Fatalf("round %d: torn value under %s: %.60q", round, kv.Key, kv.Value)
		}
		have[kv.Key] = kv
	}
	matches := func(w crashWrite, kv KV, ok bool) bool {
		if w.op == "delete" {
			return !ok
		}
		return ok && string(kv.Value) == w.value
	}
	for key, a := range acked {
		kv, ok := have[key]
		if matches(a, kv, ok) {
			if ok && kv.ModRevision != a.rev {
				t.Fatalf("round %d: %s has revision %d, acknowledged at %d", round, key, kv.ModRevision, a.rev)
			}
			continue
		}
		if w, inFlight := tried[key]; inFlight && matches(w, kv, ok) {
			continue // the write in flight at the kill made it to disk
		}
		t.Fatalf("round %d: acknowledged %s of %s (rev %d) lost: have %v %.60q", round, a.op, key, a.rev, ok, kv.Value)
	}
	if maxRev := maxAckedRev(acked); s.Revision() < maxRev {
		t.Fatalf("round %d: revision %d, but %d was acknowledged", round, s.Revision(), maxRev)
	}
}

func maxAckedRev(acked map[string]crashWrite) int64 {
	var m int64
	for _, a := range acked {
		m = max(m, a.rev)
	}
	return m
}

// crashValue is a self-checking value: payload and the hash of key and
// payload, so a torn or misplaced value is detected.
func crashValue(key string, n int) string {
	payload := strings.Repeat(strconv.Itoa(n%10), 512+rand.IntN(4096))
	sum := sha256.Sum256([]byte(key + payload))
	return hex.EncodeToString(sum[:8]) + "." + payload
}

func crashValueOK(key, v string) bool {
	sum, payload, ok := strings.Cut(v, ".")
	want := sha256.Sum256([]byte(key + payload))
	return ok && sum == hex.EncodeToString(want[:8])
}

// TestCrashChild is the child side: it runs only under TestCrashRecovery.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrashRecovery")
	}
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	report := func(kind string, w crashWrite) {
		v := w.value
		if v == "" {
			v = "-"
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, "%s %s %s %s %d\n", kind, w.op, w.key, v, w.rev)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range crashWriters {
		wg.Go(func() {
			for n := 0; ; n++ {
				key := fmt.Sprintf("/crash/%02d/%d", g, rand.IntN(crashKeys))
				cur, err := s.Get(ctx, key)
				w := crashWrite{key: key}
				switch {
				case errors.Is(err, ErrNotFound):
					w.op, w.value = "create", crashValue(key, n)
				case err != nil:
					t.Error(err)
					return
				case n%5 == 0:
					w.op = "delete"
				default:
					w.op, w.value = "update", crashValue(key, n)
				}
				report("try", w)
				switch w.op {
				case "create":
					var kv KV
					kv, err = s.Create(ctx, key, []byte(w.value))
					w.rev = kv.ModRevision
				case "update":
					var kv KV
					kv, err = s.Update(ctx, key, []byte(w.value), cur.ModRevision)
					w.rev = kv.ModRevision
				case "delete":
					_, w.rev, err = s.Delete(ctx, key, cur.ModRevision)
				}
				if err != nil {
					t.Error(err)
					return
				}
				report("ack", w)
			}
		})
	}
	wg.Wait() // until killed, or a write fails
}
