package volume

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func sameFile(t *testing.T, path string, want os.FileInfo) bool {
	t.Helper()
	got, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(got, want)
}

// mountsAt counts the mounts stacked at path (resolved) or below it.
func mountsAt(t *testing.T, path string, below bool) int {
	t.Helper()
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountPath(fields[4])
		if p == real || below && strings.HasPrefix(p, real+"/") {
			n++
		}
	}
	return n
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
}

// subPathDirs makes a volume root and a target directory whose mounts
// are undone when the test ends, however it ends.
func subPathDirs(t *testing.T) (root, targets string) {
	t.Helper()
	base := t.TempDir()
	root, targets = filepath.Join(base, "volume"), filepath.Join(base, "targets")
	if err := os.Mkdir(root, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unmountUnder(targets); err != nil {
			t.Error(err)
		}
	})
	return root, targets
}

func TestPrepareSubPathEscapes(t *testing.T) {
	needRoot(t)
	hostRoot, err := os.Stat("/")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		links   map[string]string // name in the volume -> symlink target
		sub     string
		landsAt string // inside the volume; "": refused
	}{
		{name: "absolute symlink to /", links: map[string]string{"root": "/"}, sub: "root", landsAt: "."},
		// Kubelet refuses this one too: nothing is made through a
		// symlink that points outside the volume.
		{name: "absolute symlink below", links: map[string]string{"etc": "/etc"}, sub: "etc/passwd"},
		{name: "relative symlink to a file", links: map[string]string{"pw": "../../../../../etc/passwd"}, sub: "pw"},
		{name: "relative symlink up", links: map[string]string{"up": "../../../../.."}, sub: "up/etc", landsAt: "etc"},
		{name: "chain of symlinks", links: map[string]string{"a": "b", "b": "/"}, sub: "a/x", landsAt: "x"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, targets := subPathDirs(t)
			for name, to := range tt.links {
				if err := os.Symlink(to, filepath.Join(root, name)); err != nil {
					t.Fatal(err)
				}
			}
			target := filepath.Join(targets, "c", string(rune('0'+i)))
			got, err := prepareSubPath(root, tt.sub, target)
			if tt.landsAt == "" {
				if err == nil || mountsAt(t, target, false) != 0 {
					t.Fatalf("subPath %q gave %s, %v; want refused, nothing mounted", tt.sub, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.Stat(filepath.Join(root, tt.landsAt))
			if err != nil {
				t.Fatalf("subPath not inside the volume: %v", err)
			}
			if !sameFile(t, got, want) {
				t.Errorf("target %s does not show %s inside the volume", got, tt.landsAt)
			}
			if sameFile(t, got, hostRoot) {
				t.Errorf("target %s shows the host's root", got)
			}
		})
	}
}

// TestPrepareSubPathSwap swaps the subPath's directory for a symlink to /
// in the window the runtime used to race: after the subPath is resolved
// (here: opened) and before the runtime mounts it, and after.
func TestPrepareSubPathSwap(t *testing.T) {
	needRoot(t)
	for _, swapBeforeMount := range []bool{true, false} {
		root, targets := subPathDirs(t)
		dir := filepath.Join(root, "data")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "marker"), []byte("volume"), 0o644); err != nil {
			t.Fatal(err)
		}
		swap := func() {
			if err := os.Rename(dir, filepath.Join(root, "moved")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/", dir); err != nil {
				t.Fatal(err)
			}
		}
		target := filepath.Join(targets, "c", "0")
		var got string
		if swapBeforeMount {
			handle, err := openSubPath(root, "data")
			if err != nil {
				t.Fatal(err)
			}
			swap()
			got, err = bindSubPath(handle, target)
			handle.Close()
			if err != nil {
				t.Fatal(err)
			}
		} else {
			var err error
			if got, err = prepareSubPath(root, "data", target); err != nil {
				t.Fatal(err)
			}
			swap()
		}
		b, err := os.ReadFile(filepath.Join(got, "marker"))
		if err != nil || string(b) != "volume" {
			t.Errorf("swap before mount %v: target shows %q, %v; want the volume's directory", swapBeforeMount, b, err)
		}
	}
}

// TestPrepareSubPathResync: every pod sync prepares the subPaths again;
// the same subPath keeps its one mount, a changed one replaces it.
func TestPrepareSubPathResync(t *testing.T) {
	needRoot(t)
	root, targets := subPathDirs(t)
	target := filepath.Join(targets, "c", "0")
	for range 3 {
		if _, err := prepareSubPath(root, "a", target); err != nil {
			t.Fatal(err)
		}
	}
	if n := mountsAt(t, target, false); n != 1 {
		t.Errorf("%d mounts on the target after three syncs, want 1", n)
	}
	// The subPath now names a file: the target becomes a file.
	if err := os.WriteFile(filepath.Join(root, "f"), []byte("file"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := prepareSubPath(root, "f", target)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(got); err != nil || string(b) != "file" {
		t.Errorf("file subPath reads %q, %v", b, err)
	}
	if n := mountsAt(t, target, false); n != 1 {
		t.Errorf("%d mounts on the target after the change, want 1", n)
	}
	// As os.MkdirAll would make it: the root's mode, less the umask.
	ref := filepath.Join(t.TempDir(), "ref")
	if err := os.Mkdir(ref, 0o777); err != nil {
		t.Fatal(err)
	}
	wantMode := fileMode(t, ref)
	if info, err := os.Stat(filepath.Join(root, "a")); err != nil || info.Mode() != wantMode {
		t.Errorf("missing subPath made as %v, %v; want %v", info.Mode(), err, wantMode)
	}
}

// TestTearDownSubPaths: TearDown unmounts the subPath targets before
// removing the pod directory, leaving the volume's host path whole.
func TestTearDownSubPaths(t *testing.T) {
	needRoot(t)
	m, _, _ := newTestManager(t, testObjects()...)
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(hostDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostDir, "sub", "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	pod := testPod([]corev1.Volume{
		{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}},
		{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}, []corev1.VolumeMount{{Name: "h", MountPath: "/h", SubPath: "sub"}, {Name: "e", MountPath: "/e", SubPath: "x/y"}})
	if _, err := m.SetUp(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(m.podDir(pod.UID), subPathsDir)
	// testPod gives the mounts to its init container and its container.
	if n := mountsAt(t, dir, true); n != 4 {
		t.Fatalf("%d subPath mounts, want 4", n)
	}
	if err := m.TearDown(pod.UID); err != nil {
		t.Fatal(err)
	}
	if n := mountsAt(t, dir, true); n != 0 {
		t.Errorf("%d subPath mounts left after TearDown", n)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "sub", "keep")); err != nil {
		t.Errorf("host path touched: %v", err)
	}
}
