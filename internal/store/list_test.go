package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestList(t *testing.T) {
	s := openTest(t, Config{})
	mustCreate(t, s, "/registry/pods/default/a", "1")       // 1
	mustCreate(t, s, "/registry/pods/default/b", "1")       // 2
	mustCreate(t, s, "/registry/pods/kube-system/c", "1")   // 3
	mustCreate(t, s, "/registry/services/default/a", "1")   // 4
	mustUpdate(t, s, "/registry/pods/default/a", "2")       // 5
	mustDelete(t, s, "/registry/pods/default/b")            // 6
	mustCreate(t, s, "/registry/pods/default/d", "1")       // 7
	mustCreate(t, s, "/registry/pods/default/b", "again")   // 8
	mustUpdate(t, s, "/registry/pods/kube-system/c", "2")   // 9
	mustCreate(t, s, "/registry/podsecurity/default/x", "") // 10: shares the string prefix "pods"

	tests := []struct {
		name   string
		prefix string
		rev    int64
		want   []string
	}{
		{"current", "/registry/pods/", 0, []string{
			"/registry/pods/default/a=2@1/5",
			"/registry/pods/default/b=again@8/8",
			"/registry/pods/default/d=1@7/7",
			"/registry/pods/kube-system/c=2@3/9",
		}},
		{"one namespace", "/registry/pods/default/", 0, []string{
			"/registry/pods/default/a=2@1/5",
			"/registry/pods/default/b=again@8/8",
			"/registry/pods/default/d=1@7/7",
		}},
		{"at revision 4", "/registry/pods/", 4, []string{
			"/registry/pods/default/a=1@1/1",
			"/registry/pods/default/b=1@2/2",
			"/registry/pods/kube-system/c=1@3/3",
		}},
		{"at revision 6, after the delete", "/registry/pods/", 6, []string{
			"/registry/pods/default/a=2@1/5",
			"/registry/pods/kube-system/c=1@3/3",
		}},
		{"at revision 7", "/registry/pods/default/", 7, []string{
			"/registry/pods/default/a=2@1/5",
			"/registry/pods/default/d=1@7/7",
		}},
		{"before anything", "/registry/", 0 + 1, []string{"/registry/pods/default/a=1@1/1"}},
		{"empty prefix", "/registry/nodes/", 0, nil},
		{"whole store at current", "/", 10, []string{
			"/registry/pods/default/a=2@1/5",
			"/registry/pods/default/b=again@8/8",
			"/registry/pods/default/d=1@7/7",
			"/registry/pods/kube-system/c=2@3/9",
			"/registry/podsecurity/default/x=@10/10",
			"/registry/services/default/a=1@4/4",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.List(context.Background(), tt.prefix, ListOptions{Revision: tt.rev})
			if err != nil {
				t.Fatal(err)
			}
			wantRev := tt.rev
			if wantRev == 0 {
				wantRev = 10
			}
			if res.Revision != wantRev || res.Continue != "" {
				t.Errorf("revision %d continue %q, want %d and none", res.Revision, res.Continue, wantRev)
			}
			if got := kvStrings(res.KVs); !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			// Every page size gives the same snapshot.
			for limit := int64(1); limit <= int64(len(tt.want))+1; limit++ {
				if got := kvStrings(listAll(t, s, tt.prefix, tt.rev, limit)); !slices.Equal(got, tt.want) {
					t.Errorf("limit %d: got\n%s\nwant\n%s", limit, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
			}
		})
	}
}

// listAll pages through a list and checks each page's shape.
func listAll(t *testing.T, s *Store, prefix string, rev, limit int64) []KV {
	t.Helper()
	var all []KV
	opts := ListOptions{Revision: rev, Limit: limit}
	for page := 0; ; page++ {
		res, err := s.List(context.Background(), prefix, opts)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if int64(len(res.KVs)) > limit {
			t.Fatalf("page %d has %d keys, limit %d", page, len(res.KVs), limit)
		}
		if res.Continue != "" && int64(len(res.KVs)) != limit {
			t.Fatalf("page %d has %d keys and a continue token, limit %d", page, len(res.KVs), limit)
		}
		all = append(all, res.KVs...)
		if res.Continue == "" {
			return all
		}
		opts = ListOptions{Limit: limit, Continue: res.Continue}
	}
}

// TestPagingAcrossConcurrentWrites pages through a prefix while writers
// create, update and delete keys in it; every page must come from the
// snapshot of the first.
func TestPagingAcrossConcurrentWrites(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	for i := range 200 {
		mustCreate(t, s, fmt.Sprintf("/p/%03d", i), "v0")
	}
	first, err := s.List(ctx, "/p/", ListOptions{Limit: 7})
	if err != nil {
		t.Fatal(err)
	}
	snapshot, err := s.List(ctx, "/p/", ListOptions{Revision: first.Revision})
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriters()
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("/p/%03d", (i*7+w*50)%260) // some keys beyond 199 are new
				var err error
				switch i % 3 {
				case 0:
					_, err = s.Update(ctx, key, fmt.Appendf(nil, "w%d-%d", w, i), 0)
				case 1:
					_, _, err = s.Delete(ctx, key, 0)
				case 2:
					_, err = s.Create(ctx, key, []byte("new"))
				}
				if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrExists) {
					t.Error(err)
					return
				}
			}
		})
	}
	got := first.KVs
	token := first.Continue
	for page := 0; token != ""; page++ {
		// Besides the writers' races, one write lands between every two
		// pages for certain.
		mustCreate(t, s, fmt.Sprintf("/p/z-between-%d", page), "new")
		res, err := s.List(ctx, "/p/", ListOptions{Limit: 7, Continue: token})
		if err != nil {
			t.Fatal(err)
		}
		if res.Revision != first.Revision {
			t.Fatalf("page at revision %d, first page at %d", res.Revision, first.Revision)
		}
		got = append(got, res.KVs...)
		token = res.Continue
	}
	stopWriters()
	if s.Revision() == first.Revision {
		t.Fatal("no concurrent write happened during paging")
	}
	if a, b := kvStrings(got), kvStrings(snapshot.KVs); !slices.Equal(a, b) {
		t.Fatalf("paged list (%d keys) differs from snapshot (%d keys)", len(a), len(b))
	}
	// And the snapshot read after the writes still equals the one before.
	again, err := s.List(ctx, "/p/", ListOptions{Revision: first.Revision})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kvStrings(again.KVs), kvStrings(snapshot.KVs)) {
		t.Fatal("snapshot changed after concurrent writes")
	}
}

// TestListMatchesModel replays random writes against a map and checks every
// past revision's list against the model's state at that revision.
func TestListMatchesModel(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	model := map[string]string{}
	var states []map[string]string // states[r] is the model after revision r
	states = append(states, maps.Clone(model))
	for i := range 300 {
		key := fmt.Sprintf("/m/%d", (i*31)%23)
		_, exists := model[key]
		switch {
		case !exists:
			mustCreate(t, s, key, fmt.Sprint(i))
			model[key] = fmt.Sprint(i)
		case i%4 == 0:
			mustDelete(t, s, key)
			delete(model, key)
		default:
			mustUpdate(t, s, key, fmt.Sprint(i))
			model[key] = fmt.Sprint(i)
		}
		states = append(states, maps.Clone(model))
	}
	for rev := int64(1); rev < int64(len(states)); rev++ {
		res, err := s.List(ctx, "/m/", ListOptions{Revision: rev, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		all := append(res.KVs, listRest(t, s, "/m/", res.Continue)...)
		got := map[string]string{}
		for _, kv := range all {
			got[kv.Key] = string(kv.Value)
			if kv.ModRevision > rev {
				t.Fatalf("revision %d: %s modified at %d", rev, kv.Key, kv.ModRevision)
			}
		}
		if !maps.Equal(got, states[rev]) {
			t.Fatalf("revision %d: got %v, want %v", rev, got, states[rev])
		}
	}
}

func listRest(t *testing.T, s *Store, prefix, token string) []KV {
	var all []KV
	for token != "" {
		res, err := s.List(context.Background(), prefix, ListOptions{Limit: 5, Continue: token})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, res.KVs...)
		token = res.Continue
	}
	return all
}

func TestListErrors(t *testing.T) {
	s := openTest(t, Config{HistoryCount: 2})
	for i := range 5 {
		mustCreate(t, s, fmt.Sprintf("/e/%d", i), "v")
	}
	ctx := context.Background()
	page, err := s.List(ctx, "/e/", ListOptions{Limit: 1, Revision: 2})
	if err != nil || page.Continue == "" {
		t.Fatalf("first page: %v, continue %q", err, page.Continue)
	}
	if _, err := s.Compact(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		prefix  string
		opts    ListOptions
		wantErr error
	}{
		{"future revision", "/e/", ListOptions{Revision: 6}, ErrFutureRevision},
		{"compacted revision", "/e/", ListOptions{Revision: 2}, ErrCompacted},
		{"continue into compacted history", "/e/", ListOptions{Limit: 1, Continue: page.Continue}, ErrCompacted},
		{"garbage token", "/e/", ListOptions{Continue: "%%%"}, ErrInvalidContinue},
		{"token of wrong shape", "/e/", ListOptions{Continue: "eyJ2IjoxfQ"}, ErrInvalidContinue},
		{"token revision mismatch", "/e/", ListOptions{Revision: 5, Continue: encodeContinue(4, "/e/", "/e/1")}, ErrInvalidContinue},
		{"bad prefix", "e/", ListOptions{}, ErrInvalidKey},
		{"compacted revision is still listable", "/e/", ListOptions{Revision: 3}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.List(ctx, tt.prefix, tt.opts); !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestContinueTokenStaysInPrefix(t *testing.T) {
	s := openTest(t, Config{})
	mustCreate(t, s, "/a/1", "v")
	mustCreate(t, s, "/a/2", "v")
	mustCreate(t, s, "/b/1", "secret")
	// A token made for /a/ used against /b/ resumes inside /b/, never reading /a/.
	res, err := s.List(context.Background(), "/a/", ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.List(context.Background(), "/b/", ListOptions{Limit: 1, Continue: res.Continue})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range other.KVs {
		if !strings.HasPrefix(kv.Key, "/b/") {
			t.Errorf("list of /b/ returned %s", kv.Key)
		}
	}
}
