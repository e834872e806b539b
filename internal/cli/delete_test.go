package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfirm(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, " yes ": true, "n\n": false, "": false, "yep\n": false} {
		var out strings.Builder
		if got := confirm(Streams{In: strings.NewReader(in), Out: &out}, "sure? "); got != want || out.String() != "sure? " {
			t.Errorf("answer %q: %v (asked %q), want %v", in, got, out.String(), want)
		}
	}
}

func TestCheckDataDir(t *testing.T) {
	dir := t.TempDir()
	mini := filepath.Join(dir, "mini")
	other := filepath.Join(dir, "other")
	for _, d := range []string{mini, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(mini, "store.db"), nil, 0o600)
	os.WriteFile(filepath.Join(other, "thesis.tex"), nil, 0o600)
	for _, tc := range []struct {
		dir string
		ok  bool
	}{{mini, true}, {filepath.Join(dir, "missing"), true}, {dir + "/empty-not-made", true}, {other, false}, {"/", false}} {
		if err := checkDataDir(tc.dir); (err == nil) != tc.ok {
			t.Errorf("checkDataDir(%s) = %v, want ok %v", tc.dir, err, tc.ok)
		}
	}
}

func TestDeleteNeedsConfirmation(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("delete checks for root first")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "store.db"), nil, 0o600)
	_, _, err := run(t, t.Context(), "delete", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "not confirmed") {
		t.Fatalf("delete without an answer: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "store.db")); err != nil {
		t.Fatalf("data dir touched: %v", err)
	}
}
