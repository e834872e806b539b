package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"testing/fstest"
)

func TestIsManifest(t *testing.T) {
	for name, want := range map[string]bool{
		"a.yaml": true, "a.YML": true, "a.json": true, "a.yaml.skip": false, ".a.yaml": false,
		"a.txt": false, "a": false, "a.yaml~": false,
	} {
		if got := isManifest(name); got != want {
			t.Errorf("isManifest(%q) = %v", name, got)
		}
	}
}

func TestIsDisabled(t *testing.T) {
	disabled := map[string]bool{"kube-dns": true, "addons": true}
	tests := []struct {
		rel  string
		want bool
	}{
		{"kube-dns.yaml", true},
		{"kube-dns.json", true},
		{"kube-dns-extra.yaml", false},
		{"addons/web.yaml", true},
		{"x/addons/web.yaml", true},
		{"x/kube-dns.yml", true},
		{"addons.yaml", true},
		{"web.yaml", false},
	}
	for _, tt := range tests {
		if got := isDisabled(tt.rel, disabled); got != tt.want {
			t.Errorf("isDisabled(%q) = %v, want %v", tt.rel, got, tt.want)
		}
	}
}

func TestScanSources(t *testing.T) {
	builtin := fstest.MapFS{
		"kube-dns.yaml": {Data: []byte("x")},
		"other.yaml":    {Data: []byte("x")},
		"off.yaml":      {Data: []byte("x")},
		"README.md":     {Data: []byte("x")},
	}
	dir := t.TempDir()
	for _, f := range []string{
		"b.yaml", "a.yml", "c.json", "notes.txt", ".hidden.yaml",
		"skipme.yaml", "skipme.yaml.skip", "other.yaml.skip", // the latter skips the built-in
		"sub/d.yaml", "sub/e.yaml", "sub/e.yaml.skip", "off/f.yaml", ".git/g.yaml", "gone.yaml.skip",
	} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := scanSources(builtin, dir, map[string]bool{"off": true})
	if err != nil {
		t.Fatal(err)
	}
	var apply []string
	for _, s := range sc.apply {
		apply = append(apply, s.key)
	}
	want := []string{"builtin:kube-dns.yaml", "a.yml", "b.yaml", "c.json", "sub/d.yaml"}
	if !slices.Equal(apply, want) {
		t.Errorf("apply %v, want %v", apply, want)
	}
	if sc.apply[1].name != filepath.Join(dir, "a.yml") || sc.apply[1].builtin || !sc.apply[0].builtin {
		t.Errorf("sources %+v", sc.apply[:2])
	}
	var skipped, disabled []string
	for k := range sc.skipped {
		skipped = append(skipped, k)
	}
	for k := range sc.disabled {
		disabled = append(disabled, k)
	}
	sort.Strings(skipped)
	sort.Strings(disabled)
	if !slices.Equal(skipped, []string{"builtin:other.yaml", "skipme.yaml", "sub/e.yaml"}) {
		t.Errorf("skipped %v", skipped)
	}
	if !slices.Equal(disabled, []string{"builtin:off.yaml", "off/f.yaml"}) {
		t.Errorf("disabled %v", disabled)
	}

	// A directory that does not exist holds nothing.
	sc, err = scanSources(nil, filepath.Join(dir, "missing"), nil)
	if err != nil || len(sc.apply) != 0 {
		t.Fatalf("missing dir: %v, %v", sc.apply, err)
	}
}
