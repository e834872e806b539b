package kubeconfig

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeConfig writes a kubeconfig with one context per name, each with a
// cluster and user of its own, the first one current.
func writeConfig(t *testing.T, path, server string, names ...string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for _, n := range names {
		cfg.Clusters[n] = &clientcmdapi.Cluster{Server: server + "/" + n}
		cfg.AuthInfos[n] = &clientcmdapi.AuthInfo{Token: "token-" + n}
		cfg.Contexts[n] = &clientcmdapi.Context{Cluster: n, AuthInfo: n, Namespace: "ns-" + n}
	}
	if len(names) > 0 {
		cfg.CurrentContext = names[0]
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, path string) *clientcmdapi.Config {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing []string // contexts already in the user's file; nil: no file
		wantKept []string
		backup   bool
	}{
		{"no file yet", nil, nil, false},
		{"other contexts are kept", []string{"work", "home"}, []string{"work", "home"}, true},
		{"an old mini entry is replaced", []string{"mini", "work"}, []string{"work"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			admin := filepath.Join(dir, "admin.yaml")
			writeConfig(t, admin, "https://127.0.0.1:6443", "default")
			f := File{Path: filepath.Join(dir, ".kube", "config")}
			if tc.existing != nil {
				if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
					t.Fatal(err)
				}
				writeConfig(t, f.Path, "https://old", tc.existing...)
			}
			before, _ := os.ReadFile(f.Path)
			backup, err := f.Merge(admin, "mini")
			if err != nil {
				t.Fatal(err)
			}
			cfg := load(t, f.Path)
			if cfg.CurrentContext != "mini" {
				t.Errorf("current context %q, want mini", cfg.CurrentContext)
			}
			ctx := cfg.Contexts["mini"]
			if ctx == nil || ctx.Cluster != "mini" || ctx.AuthInfo != "mini" || ctx.Namespace != "ns-default" {
				t.Fatalf("context mini: %+v", ctx)
			}
			if c := cfg.Clusters["mini"]; c == nil || c.Server != "https://127.0.0.1:6443/default" {
				t.Errorf("cluster mini: %+v", c)
			}
			if u := cfg.AuthInfos["mini"]; u == nil || u.Token != "token-default" {
				t.Errorf("user mini: %+v", u)
			}
			for _, n := range tc.wantKept {
				if cfg.Contexts[n] == nil || cfg.Clusters[n] == nil || cfg.AuthInfos[n] == nil || cfg.Contexts[n].Namespace != "ns-"+n {
					t.Errorf("context %s was not kept whole", n)
				}
			}
			if len(cfg.Contexts) != len(tc.wantKept)+1 {
				t.Errorf("%d contexts, want %d", len(cfg.Contexts), len(tc.wantKept)+1)
			}
			if st, err := os.Stat(f.Path); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("mode: %v %v", st, err)
			}
			if !tc.backup {
				if backup != "" {
					t.Errorf("backup %q of no file", backup)
				}
				return
			}
			if got, err := os.ReadFile(backup); err != nil || string(got) != string(before) || backup != f.Path+BackupSuffix {
				t.Errorf("backup %q does not hold the file as it was: %v", backup, err)
			}
		})
	}
}

func TestMergeTwiceIsQuiet(t *testing.T) {
	dir := t.TempDir()
	admin := filepath.Join(dir, "admin.yaml")
	writeConfig(t, admin, "https://127.0.0.1:6443", "default")
	f := File{Path: filepath.Join(dir, "config")}
	if _, err := f.Merge(admin, "mini"); err != nil {
		t.Fatal(err)
	}
	if backup, err := f.Merge(admin, "mini"); err != nil || backup != "" {
		t.Fatalf("second merge of the same config: backup %q, %v; want neither", backup, err)
	}
}

func TestRemove(t *testing.T) {
	dir := t.TempDir()
	f := File{Path: filepath.Join(dir, "config")}
	if backup, err := f.Remove("mini"); err != nil || backup != "" {
		t.Fatalf("removing from a missing file: %q, %v", backup, err)
	}
	writeConfig(t, f.Path, "https://x", "mini", "work")
	if _, err := f.Remove("mini"); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, f.Path)
	if cfg.CurrentContext != "" || cfg.Contexts["mini"] != nil || cfg.Clusters["mini"] != nil || cfg.AuthInfos["mini"] != nil {
		t.Errorf("mini left behind: %+v", cfg)
	}
	if cfg.Contexts["work"] == nil {
		t.Error("work context removed")
	}
}

func TestMergeErrors(t *testing.T) {
	dir := t.TempDir()
	noCurrent := filepath.Join(dir, "none.yaml")
	writeConfig(t, noCurrent, "https://x")
	broken := filepath.Join(dir, "broken")
	if err := os.WriteFile(broken, []byte("{not yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	writeConfig(t, good, "https://x", "a")
	for name, tc := range map[string]struct{ src, dst string }{
		"no current context":   {noCurrent, filepath.Join(dir, "out1")},
		"missing source":       {filepath.Join(dir, "missing"), filepath.Join(dir, "out2")},
		"unreadable user file": {good, broken},
	} {
		if _, err := (File{Path: tc.dst}).Merge(tc.src, "mini"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if b, _ := os.ReadFile(broken); string(b) != "{not yaml" {
		t.Error("a file that could not be read was overwritten")
	}
}

func TestDefaultPath(t *testing.T) {
	for _, tc := range []struct{ env, home, want string }{
		{"", "/home/u", "/home/u/.kube/config"},
		{"/a/b:/c/d", "/home/u", "/a/b"},
		{":/c/d", "/home/u", "/c/d"},
	} {
		if got := DefaultPath(tc.env, tc.home); got != tc.want {
			t.Errorf("DefaultPath(%q, %q) = %q, want %q", tc.env, tc.home, got, tc.want)
		}
	}
}
