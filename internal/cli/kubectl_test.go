package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestKubectlDataDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withDir := write("dir.yaml", "data-dir: /srv/mini\nsim-nodes: 2\n")
	without := write("other.yaml", "sim-nodes: 2\n")
	bad := write("bad.yaml", "data-dir: [a, b]\n")
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{name: "default", env: map[string]string{"MINI_CONFIG": without}, want: defaultDataDir},
		{name: "environment", env: map[string]string{"MINI_DATA_DIR": "/tmp/d"}, want: "/tmp/d"},
		{name: "environment wins over the file", env: map[string]string{"MINI_DATA_DIR": "/tmp/d", "MINI_CONFIG": withDir}, want: "/tmp/d"},
		{name: "file", env: map[string]string{"MINI_CONFIG": withDir}, want: "/srv/mini"},
		{name: "named file missing", env: map[string]string{"MINI_CONFIG": filepath.Join(dir, "nope.yaml")}, wantErr: true},
		{name: "not a directory", env: map[string]string{"MINI_CONFIG": bad}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := kubectlDataDir(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("data dir = %q, want %q", got, tc.want)
			}
		})
	}
}
