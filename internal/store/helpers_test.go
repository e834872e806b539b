package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// openTest opens a store in a fresh directory. At cleanup it checks the
// store's invariants, closes it, reopens the directory and checks that the
// same revision and invariants come back: every test is also a reopen test.
func openTest(t *testing.T, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Check(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Check before close: %v", err)
		}
		rev := s.Revision()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		again, err := Open(cfg)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer again.Close()
		if got := again.Revision(); got != rev {
			t.Errorf("revision after reopen = %d, want %d", got, rev)
		}
		if err := again.Check(); err != nil {
			t.Errorf("Check after reopen: %v", err)
		}
	})
	return s
}

func mustCreate(t *testing.T, s *Store, key, value string) KV {
	t.Helper()
	kv, err := s.Create(context.Background(), key, []byte(value))
	if err != nil {
		t.Fatalf("Create %s: %v", key, err)
	}
	return kv
}

func mustUpdate(t *testing.T, s *Store, key, value string) KV {
	t.Helper()
	kv, err := s.Update(context.Background(), key, []byte(value), 0)
	if err != nil {
		t.Fatalf("Update %s: %v", key, err)
	}
	return kv
}

func mustDelete(t *testing.T, s *Store, key string) int64 {
	t.Helper()
	_, rev, err := s.Delete(context.Background(), key, 0)
	if err != nil {
		t.Fatalf("Delete %s: %v", key, err)
	}
	return rev
}

// kvString renders key=value@create/mod, for comparing lists.
func kvString(kv KV) string {
	return fmt.Sprintf("%s=%s@%d/%d", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision)
}

func kvStrings(kvs []KV) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = kvString(kv)
	}
	return out
}

// eventString renders an event with its previous state.
func eventString(ev Event) string {
	s := fmt.Sprintf("%s %s", ev.Type, kvString(ev.KV))
	if ev.Type != EventCreate {
		s += " prev " + kvString(ev.Prev)
	}
	return s
}

// collect reads n events from w or fails after a timeout.
func collect(t *testing.T, w *Watcher, n int) []Event {
	t.Helper()
	var got []Event
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watcher ended after %d of %d events: %v", len(got), n, w.Err())
			}
			got = append(got, ev)
		case <-timeout:
			t.Fatalf("timed out after %d of %d events", len(got), n)
		}
	}
	return got
}
