package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	steps := []struct {
		name        string
		payload     map[string]fileProjection
		wantChanged bool
		want        map[string]string
		wantErr     string
	}{
		{name: "first write", wantChanged: true,
			payload: map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o644}, "sub/b": {Data: []byte("2"), Mode: 0o600}},
			want:    map[string]string{"a": "1", "sub/b": "2"}},
		{name: "same payload is not rewritten", wantChanged: false,
			payload: map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o644}, "sub/b": {Data: []byte("2"), Mode: 0o600}},
			want:    map[string]string{"a": "1", "sub/b": "2"}},
		{name: "mode change rewrites", wantChanged: true,
			payload: map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o400}, "sub/b": {Data: []byte("2"), Mode: 0o600}},
			want:    map[string]string{"a": "1", "sub/b": "2"}},
		{name: "update and removal", wantChanged: true,
			payload: map[string]fileProjection{"a": {Data: []byte("new"), Mode: 0o644}, "c": {Data: []byte("3"), Mode: 0o644}},
			want:    map[string]string{"a": "new", "c": "3"}},
		{name: "empty payload", wantChanged: true, payload: map[string]fileProjection{}, want: map[string]string{}},
		{name: "absolute path", payload: map[string]fileProjection{"/etc/x": {}}, wantErr: "must be relative path"},
		{name: "backsteps", payload: map[string]fileProjection{"a/../../x": {}}, wantErr: "must not contain '..'"},
		{name: "leading dots", payload: map[string]fileProjection{"..data": {}}, wantErr: "must not start with '..'"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			changed, err := writeAtomic(dir, s.payload, nil)
			if s.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), s.wantErr) {
					t.Fatalf("error = %v, want %q", err, s.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if changed != s.wantChanged {
				t.Errorf("changed = %v, want %v", changed, s.wantChanged)
			}
			got := map[string]string{}
			for p := range s.want {
				data, err := os.ReadFile(filepath.Join(dir, p))
				if err != nil {
					t.Fatal(err)
				}
				got[p] = string(data)
				if got[p] != s.want[p] {
					t.Errorf("%s = %q, want %q", p, got[p], s.want[p])
				}
				if info, err := os.Stat(filepath.Join(dir, p)); err != nil || info.Mode().Perm() != os.FileMode(s.payload[p].Mode) {
					t.Errorf("%s mode = %v, want %o", p, info.Mode(), s.payload[p].Mode)
				}
			}
			// Exactly ..data, one timestamped directory and the
			// top-level names remain.
			entries, _ := os.ReadDir(dir)
			var ts, visible int
			for _, e := range entries {
				switch {
				case e.Name() == dataDirName:
				case strings.HasPrefix(e.Name(), "..20"):
					ts++
				case strings.HasPrefix(e.Name(), ".."):
					t.Errorf("leftover %s", e.Name())
				default:
					visible++
					if e.Type()&os.ModeSymlink == 0 {
						t.Errorf("%s is not a symlink", e.Name())
					}
				}
			}
			top := map[string]bool{}
			for p := range s.want {
				top[strings.SplitN(p, "/", 2)[0]] = true
			}
			if ts != 1 || visible != len(top) {
				t.Errorf("%d timestamped dirs and %d names, want 1 and %d", ts, visible, len(top))
			}
		})
	}
}

// TestWriteAtomicReaderNeverSeesAMix reads a two-file volume while it is
// rewritten and checks that both files always come from one version.
func TestWriteAtomicReaderNeverSeesAMix(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	write := func(v string) {
		if _, err := writeAtomic(dir, map[string]fileProjection{"x": {Data: []byte(v), Mode: 0o644}, "y": {Data: []byte(v), Mode: 0o644}}, nil); err != nil {
			t.Error(err)
		}
	}
	write("0")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i < 300; i++ {
			write(strings.Repeat("v", i))
		}
	}()
	for reads := 0; ; reads++ {
		select {
		case <-done:
			if reads == 0 {
				t.Fatal("no reads")
			}
			return
		default:
		}
		// Read both through the same ..data target, as a program
		// opening the directory once would.
		target, err := os.Readlink(filepath.Join(dir, dataDirName))
		if err != nil {
			t.Fatal(err)
		}
		x, errX := os.ReadFile(filepath.Join(dir, target, "x"))
		y, errY := os.ReadFile(filepath.Join(dir, target, "y"))
		if errX != nil || errY != nil {
			continue // that version was removed meanwhile
		}
		if string(x) != string(y) {
			t.Fatalf("mixed versions: %q and %q", x, y)
		}
	}
}
