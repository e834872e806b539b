package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWrites(t *testing.T) {
	type step struct {
		op      string // create, update, delete, get
		key     string
		value   string
		expect  int64 // expected modify revision for update/delete
		wantErr error
		want    string // kvString of the result, when no error
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"create then get", []step{
			{op: "create", key: "/a", value: "1", want: "/a=1@1/1"},
			{op: "get", key: "/a", want: "/a=1@1/1"},
		}},
		{"create twice", []step{
			{op: "create", key: "/a", value: "1", want: "/a=1@1/1"},
			{op: "create", key: "/a", value: "2", wantErr: ErrExists},
			{op: "get", key: "/a", want: "/a=1@1/1"},
		}},
		{"failed write takes no revision", []step{
			{op: "create", key: "/a", value: "1", want: "/a=1@1/1"},
			{op: "create", key: "/a", value: "2", wantErr: ErrExists},
			{op: "create", key: "/b", value: "1", want: "/b=1@2/2"},
		}},
		{"update keeps create revision", []step{
			{op: "create", key: "/a", value: "1", want: "/a=1@1/1"},
			{op: "update", key: "/a", value: "2", expect: 1, want: "/a=2@1/2"},
			{op: "update", key: "/a", value: "3", want: "/a=3@1/3"},
			{op: "get", key: "/a", want: "/a=3@1/3"},
		}},
		{"update with stale revision", []step{
			{op: "create", key: "/a", value: "1"},
			{op: "update", key: "/a", value: "2", expect: 1},
			{op: "update", key: "/a", value: "3", expect: 1, wantErr: ErrConflict},
			{op: "get", key: "/a", want: "/a=2@1/2"},
		}},
		{"update missing", []step{
			{op: "update", key: "/a", value: "1", wantErr: ErrNotFound},
		}},
		{"delete guarded", []step{
			{op: "create", key: "/a", value: "1"},
			{op: "delete", key: "/a", expect: 7, wantErr: ErrConflict},
			{op: "delete", key: "/a", expect: 1, want: "/a=1@1/1"},
			{op: "get", key: "/a", wantErr: ErrNotFound},
			{op: "delete", key: "/a", wantErr: ErrNotFound},
		}},
		{"recreate after delete starts a new life", []step{
			{op: "create", key: "/a", value: "1"},
			{op: "delete", key: "/a"},
			{op: "create", key: "/a", value: "2", want: "/a=2@3/3"},
		}},
		{"empty value", []step{
			{op: "create", key: "/a", value: "", want: "/a=@1/1"},
			{op: "get", key: "/a", want: "/a=@1/1"},
		}},
		{"invalid keys", []step{
			{op: "create", key: "", wantErr: ErrInvalidKey},
			{op: "create", key: "registry/a", wantErr: ErrInvalidKey},
			{op: "create", key: "/a\x00b", wantErr: ErrInvalidKey},
			{op: "create", key: "/" + strings.Repeat("k", MaxKeyLen), wantErr: ErrInvalidKey},
			{op: "get", key: "nope", wantErr: ErrInvalidKey},
			{op: "update", key: "", wantErr: ErrInvalidKey},
			{op: "delete", key: "x", wantErr: ErrInvalidKey},
		}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, Config{})
			for i, st := range tt.steps {
				var kv KV
				var err error
				switch st.op {
				case "create":
					kv, err = s.Create(ctx, st.key, []byte(st.value))
				case "update":
					kv, err = s.Update(ctx, st.key, []byte(st.value), st.expect)
				case "delete":
					kv, _, err = s.Delete(ctx, st.key, st.expect)
				case "get":
					kv, err = s.Get(ctx, st.key)
				}
				if !errors.Is(err, st.wantErr) {
					t.Fatalf("step %d %s %q: err = %v, want %v", i, st.op, st.key, err, st.wantErr)
				}
				if err == nil && st.want != "" && kvString(kv) != st.want {
					t.Fatalf("step %d %s %q: got %s, want %s", i, st.op, st.key, kvString(kv), st.want)
				}
			}
		})
	}
}

func TestConflictCarriesCurrent(t *testing.T) {
	s := openTest(t, Config{})
	mustCreate(t, s, "/a", "1")
	mustUpdate(t, s, "/a", "2")
	_, err := s.Update(context.Background(), "/a", []byte("3"), 1)
	var conflict *ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("err = %v, want *ConflictError", err)
	}
	if got := kvString(conflict.Current); got != "/a=2@1/2" {
		t.Errorf("Current = %s, want /a=2@1/2", got)
	}
}

func TestDeleteReturnsRevision(t *testing.T) {
	s := openTest(t, Config{})
	mustCreate(t, s, "/a", "1")
	prev, rev, err := s.Delete(context.Background(), "/a", 1)
	if err != nil || rev != 2 || kvString(prev) != "/a=1@1/1" {
		t.Fatalf("Delete = %s, %d, %v; want /a=1@1/1, 2, nil", kvString(prev), rev, err)
	}
}

func TestCallerBuffersAreNotShared(t *testing.T) {
	s := openTest(t, Config{})
	buf := []byte("one")
	mustCreate(t, s, "/a", string(buf))
	w, err := s.Watch(context.Background(), "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := s.Update(context.Background(), "/a", buf, 0); err != nil {
		t.Fatal(err)
	}
	copy(buf, "two") // the caller reuses its buffer after the write
	got, _ := s.Get(context.Background(), "/a")
	got.Value[0] = 'X' // and scribbles on what Get returned
	evs := collect(t, w, 2)
	if v := string(evs[1].KV.Value); v != "one" {
		t.Errorf("watched value = %q, want one", v)
	}
	if again, _ := s.Get(context.Background(), "/a"); string(again.Value) != "one" {
		t.Errorf("stored value = %q, want one", again.Value)
	}
}

func TestGroupCommit(t *testing.T) {
	s := openTest(t, Config{})
	const writers, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.Create(context.Background(), fmt.Sprintf("/g/%d/%d", w, i), []byte("v")); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Writes != writers*each || st.Revision != writers*each {
		t.Fatalf("stats = %+v, want %d writes and revision", st, writers*each)
	}
	// 64 writers blocked on fsync must share transactions.
	if st.Commits >= st.Writes {
		t.Errorf("%d commits for %d writes: no group commit", st.Commits, st.Writes)
	}
	t.Logf("%d writes in %d commits", st.Writes, st.Commits)
}

func TestReopenKeepsStateAndHistory(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "/a", "1")
	mustCreate(t, s, "/b", "1")
	mustUpdate(t, s, "/a", "2")
	mustDelete(t, s, "/b")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, Config{Dir: dir})
	if got := s.Revision(); got != 4 {
		t.Fatalf("revision = %d, want 4", got)
	}
	if kv := mustCreate(t, s, "/c", "1"); kv.ModRevision != 5 {
		t.Fatalf("next write got revision %d, want 5", kv.ModRevision)
	}
	// History written before the reopen is replayed from disk.
	w, err := s.Watch(context.Background(), "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []string
	for _, ev := range collect(t, w, 5) {
		got = append(got, eventString(ev))
	}
	want := []string{
		"CREATE /a=1@1/1",
		"CREATE /b=1@2/2",
		"UPDATE /a=2@1/3 prev /a=1@1/1",
		"DELETE /b=@2/4 prev /b=1@2/2",
		"CREATE /c=1@5/5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(context.Background(), "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range w.Events() {
	}
	if !errors.Is(w.Err(), ErrClosed) {
		t.Errorf("watcher ended with %v, want ErrClosed", w.Err())
	}
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["create"] = s.Create(ctx, "/a", nil)
	_, checks["update"] = s.Update(ctx, "/a", nil, 0)
	_, _, checks["delete"] = s.Delete(ctx, "/a", 0)
	_, checks["get"] = s.Get(ctx, "/a")
	_, checks["list"] = s.List(ctx, "/", ListOptions{})
	_, checks["watch"] = s.Watch(ctx, "/", 0)
	_, checks["compact"] = s.Compact(ctx, time.Now())
	for op, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", op, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenLockedByAnotherStore(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the file lock timeout")
	}
	s := openTest(t, Config{})
	if _, err := Open(Config{Dir: s.cfg.Dir}); err == nil {
		t.Fatal("second Open of the same dir succeeded")
	}
}
