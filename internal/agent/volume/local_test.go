package volume

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheckHostPathType(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sockDir, err := os.MkdirTemp("/tmp", "mt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	tests := []struct {
		typ     corev1.HostPathType
		path    string
		wantErr string
		check   func(t *testing.T)
	}{
		{typ: corev1.HostPathUnset, path: filepath.Join(dir, "missing")},
		{typ: corev1.HostPathDirectory, path: dir},
		{typ: corev1.HostPathDirectory, path: file, wantErr: "hostPath type check failed: " + file + " is not a directory"},
		{typ: corev1.HostPathDirectory, path: filepath.Join(dir, "nope"), wantErr: "is not a directory"},
		{typ: corev1.HostPathDirectoryOrCreate, path: filepath.Join(dir, "made/deep"), check: func(t *testing.T) {
			if info, err := os.Stat(filepath.Join(dir, "made/deep")); err != nil || !info.IsDir() {
				t.Errorf("directory not made: %v", err)
			}
		}},
		{typ: corev1.HostPathDirectoryOrCreate, path: file, wantErr: "is not a directory"},
		{typ: corev1.HostPathFile, path: file},
		{typ: corev1.HostPathFile, path: dir, wantErr: "hostPath type check failed: " + dir + " is not a file"},
		{typ: corev1.HostPathFileOrCreate, path: filepath.Join(dir, "new/f"), check: func(t *testing.T) {
			if info, err := os.Stat(filepath.Join(dir, "new/f")); err != nil || !info.Mode().IsRegular() {
				t.Errorf("file not made: %v", err)
			}
		}},
		{typ: corev1.HostPathSocket, path: sock},
		{typ: corev1.HostPathSocket, path: file, wantErr: "is not a socket file"},
		{typ: corev1.HostPathCharDev, path: "/dev/null"},
		{typ: corev1.HostPathCharDev, path: file, wantErr: "is not a character device"},
		{typ: corev1.HostPathBlockDev, path: "/dev/null", wantErr: "is not a block device"},
		{typ: "Bogus", path: dir, wantErr: "Bogus is an invalid volume type"},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+" "+filepath.Base(tt.path), func(t *testing.T) {
			err := checkHostPathType(tt.path, &tt.typ)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
}
