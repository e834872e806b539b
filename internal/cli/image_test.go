package cli

import (
	"archive/tar"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"mini.dev/mini/internal/runtime"
	"mini.dev/mini/internal/runtime/containerd"
	"mini.dev/mini/internal/testimages"
)

// Two images as containerd reports them: busybox under two names, and an
// untagged one known only by digest.
var (
	busyboxImage = &runtime.Image{
		ID:          "sha256:1f9cf9edc24f0007424411f5fdfc6a234582f7d40c48236bd3180511c5cf47af",
		RepoTags:    []string{"docker.io/library/busybox:latest", "localhost:5000/busybox:1.36"},
		RepoDigests: []string{"docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		Size:        2_162_000,
	}
	untaggedImage = &runtime.Image{
		ID:          "sha256:f891efab361319c28f0bff055c14e165cb4da9ec2ee76379ff1c10e20960c79a",
		RepoDigests: []string{"mini.dev/test/httpapp@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"},
		Size:        999,
	}
)

func TestWriteImageTable(t *testing.T) {
	var out strings.Builder
	if err := writeImageTable(&out, []*runtime.Image{untaggedImage, busyboxImage}); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"IMAGE                       TAG                 IMAGE ID            SIZE\n" +
		"docker.io/library/busybox   latest              1f9cf9edc24f0       2.16MB\n" +
		"localhost:5000/busybox      1.36                1f9cf9edc24f0       2.16MB\n" +
		"mini.dev/test/httpapp       <none>              f891efab36131       999B\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestHumanSize(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want string
	}{{0, "0B"}, {999, "999B"}, {1000, "1kB"}, {1_234_567, "1.23MB"}, {45_600_000_000, "45.6GB"}} {
		if got := humanSize(c.n); got != c.want {
			t.Errorf("humanSize(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestResolveImage(t *testing.T) {
	images := []*runtime.Image{busyboxImage, untaggedImage}
	for _, c := range []struct {
		arg  string
		want []string
	}{
		{"busybox", []string{"docker.io/library/busybox:latest"}},
		{"busybox:latest", []string{"docker.io/library/busybox:latest"}},
		{"docker.io/library/busybox:latest", []string{"docker.io/library/busybox:latest"}},
		{"localhost:5000/busybox:1.36", []string{"localhost:5000/busybox:1.36"}},
		// By ID, the image goes under all its names.
		{"1f9cf9edc24f0", append(append([]string{}, busyboxImage.RepoTags...), busyboxImage.RepoDigests...)},
		{busyboxImage.ID, append(append([]string{}, busyboxImage.RepoTags...), busyboxImage.RepoDigests...)},
		{"f891ef", untaggedImage.RepoDigests},
		{untaggedImage.RepoDigests[0], untaggedImage.RepoDigests},
		{"busybox:1.36", nil},
		{"nginx", nil},
		{"1f9c", nil}, // too short a prefix to be taken for an ID
		{"Not A Ref", nil},
	} {
		if got := resolveImage(images, c.arg); !slices.Equal(got, c.want) {
			t.Errorf("resolveImage(%q) = %q, want %q", c.arg, got, c.want)
		}
	}
}

func TestSplitRepoTag(t *testing.T) {
	for _, c := range []struct{ in, repo, tag string }{
		{"docker.io/library/busybox:latest", "docker.io/library/busybox", "latest"},
		{"localhost:5000/busybox:1.36", "localhost:5000/busybox", "1.36"},
		{"localhost:5000/busybox", "localhost:5000/busybox", "<none>"},
	} {
		if repo, tag := splitRepoTag(c.in); repo != c.repo || tag != c.tag {
			t.Errorf("splitRepoTag(%q) = %q, %q", c.in, repo, tag)
		}
	}
}

// TestImageNoContainerd checks the one-line answer when nothing listens
// where the commands look.
func TestImageNoContainerd(t *testing.T) {
	dir := t.TempDir()
	sock := containerd.SocketPath(filepath.Join(dir, "agent"))
	for _, args := range [][]string{
		{"image", "ls", "--data-dir", dir},
		{"image", "rm", "busybox", "--data-dir", dir},
		{"image", "import", "-", "--data-dir", dir},
		{"image", "ls", "--container-runtime-endpoint", "unix://" + filepath.Join(dir, "nothing.sock")},
	} {
		_, _, err := run(t, context.Background(), args...)
		if err == nil || !strings.Contains(err.Error(), "no containerd at ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v", args, err)
		}
		if args[len(args)-2] == "--data-dir" && !strings.Contains(err.Error(), sock) {
			t.Errorf("%v: %v does not name %s", args, err, sock)
		}
	}
	if _, _, err := run(t, context.Background(), "image", "ls", "--container-runtime-endpoint", "tcp://localhost:1"); err == nil ||
		!strings.Contains(err.Error(), "only unix sockets") {
		t.Errorf("tcp endpoint: %v", err)
	}
}

// TestImageCommands imports, lists and removes the test images in a
// containerd of its own, found through --data-dir as `mini server` runs it.
func TestImageCommands(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containerd")
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s: %v", bin, err)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox to build the test image from")
	}
	cache := t.TempDir()
	busybox, err := testimages.Busybox(cache)
	if err != nil {
		t.Fatal(err)
	}
	httpapp, err := testimages.HTTPApp(cache, "v1")
	if err != nil {
		t.Fatal(err)
	}

	// A short data dir keeps containerd's socket path within a socket
	// address.
	dataDir, err := os.MkdirTemp("/tmp", "mi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	startContainerd(t, filepath.Join(dataDir, "agent"))

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	mini := func(args ...string) string {
		t.Helper()
		out, errOut, err := run(t, ctx, append(args, "--data-dir", dataDir)...)
		if err != nil {
			t.Fatalf("mini %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out
	}

	if out := mini("image", "import", busybox); out != "Loaded image: docker.io/library/busybox:latest\n" {
		t.Errorf("import busybox: %q", out)
	}
	// From standard input, as `cat tar | mini image import -`.
	f, err := os.Open(httpapp)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out, errOut strings.Builder
	if err := Run(ctx, []string{"image", "import", "-", "--data-dir", dataDir}, Streams{In: f, Out: &out, Err: &errOut}); err != nil ||
		out.String() != "Loaded image: mini.dev/test/httpapp:v1\n" {
		t.Fatalf("import - < httpapp: %q, %v, %s", out.String(), err, errOut.String())
	}

	// An OCI layout tar, as `docker buildx --output type=oci` writes.
	if out := mini("image", "import", ociTar(t, busybox, "mini.dev/test/oci:v1")); out != "Loaded image: mini.dev/test/oci:v1\n" {
		t.Errorf("import OCI tar: %q", out)
	}
	if out := mini("image", "rm", "mini.dev/test/oci:v1"); out != "Deleted: mini.dev/test/oci:v1\n" {
		t.Errorf("rm oci: %q", out)
	}

	ls := mini("image", "ls")
	lines := strings.Split(strings.TrimSpace(ls), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "IMAGE ") ||
		!strings.HasPrefix(lines[1], "docker.io/library/busybox ") || !strings.HasPrefix(lines[2], "mini.dev/test/httpapp ") ||
		!strings.Contains(lines[2], " v1 ") {
		t.Fatalf("image ls:\n%s", ls)
	}

	if out := mini("image", "rm", "busybox"); out != "Deleted: busybox\n" {
		t.Errorf("rm busybox: %q", out)
	}
	if ls := mini("image", "ls"); strings.Contains(ls, "busybox") || !strings.Contains(ls, "httpapp") {
		t.Errorf("image ls after rm:\n%s", ls)
	}
	if _, _, err := run(t, ctx, "image", "rm", "busybox", "--data-dir", dataDir); err == nil || !strings.Contains(err.Error(), "no such image") {
		t.Errorf("rm busybox again: %v", err)
	}
}

// ociTar rewrites the image in a docker-archive tar as an OCI layout tar
// naming it ref.
func ociTar(t *testing.T, dockerTar, ref string) string {
	t.Helper()
	img, err := tarball.ImageFromPath(dockerTar, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "oci.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(filepath.Join(dir, "layout"))); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// startContainerd runs the private containerd the node would run for
// nodeDir until the test ends.
func startContainerd(t *testing.T, nodeDir string) {
	t.Helper()
	rt, err := containerd.New(containerd.Config{DataDir: nodeDir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		rt.Close()
	})
	select {
	case <-rt.Ready():
	case err := <-done:
		t.Fatalf("containerd: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("containerd not ready after 30s")
	}
}
