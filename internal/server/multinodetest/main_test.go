package multinodetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"mini.dev/mini/internal/server/multinodetest/harness"
)

// upstreamChildEnv makes the test binary a DNS resolver for the hosts'
// "rest of the world" (see upstream_test.go), run in the client namespace.
const upstreamChildEnv = "MINI_MULTINODETEST_UPSTREAM"

func TestMain(m *testing.M) {
	if spec := os.Getenv(upstreamChildEnv); spec != "" {
		os.Exit(runUpstreamChild(spec))
	}
	// An interrupted run (^C, or the go command's timeout signal) still
	// removes every host it built; t.Cleanup does it otherwise.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "multinodetest: %v: tearing the clusters down\n", sig)
		live.teardownAll()
		os.Exit(1)
	}()
	code := m.Run()
	live.teardownAll()
	miniBin.remove()
	os.Exit(code)
}

// registry holds the clusters this run built, for the signal handler.
type registry struct {
	mu       sync.Mutex
	clusters map[*cluster]bool
}

var live = &registry{clusters: map[*cluster]bool{}}

func (r *registry) add(c *cluster) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clusters[c] = true
}

func (r *registry) remove(c *cluster) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.clusters, c)
}

// teardownAll removes every cluster still up.
func (r *registry) teardownAll() {
	r.mu.Lock()
	cs := make([]*cluster, 0, len(r.clusters))
	for c := range r.clusters {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	for _, c := range cs {
		var b bytes.Buffer
		c.teardown(&b)
		os.Stderr.Write(b.Bytes())
	}
}

// skipUnlessClusterCanRun skips t when this machine cannot run real nodes
// in network namespaces.
func skipUnlessClusterCanRun(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-node end-to-end test (-short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the multi-node tests need root")
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (scripts/install-deps.sh test)", bin)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed (scripts/install-deps.sh test)")
	}
}

// miniBin is the mini binary the hosts run.
var miniBin = &binary{}

// binary is $MINI_BIN if set, else mini built once from this checkout
// into a temporary dir (the go command's cache makes that quick when
// `make build` ran before), so that the tests run the code beside them.
type binary struct {
	once      sync.Once
	path, dir string
	err       error
}

// get returns the binary's path, building it on first use.
func (b *binary) get(t *testing.T) string {
	t.Helper()
	b.once.Do(func() {
		root, err := harness.RepoRoot()
		if err != nil {
			b.err = err
			return
		}
		if p := os.Getenv("MINI_BIN"); p != "" {
			// Relative to the repository, as `make` passes bin/mini.
			if !filepath.IsAbs(p) {
				p = filepath.Join(root, p)
			}
			b.path = p
			return
		}
		if b.dir, b.err = os.MkdirTemp("", "multinodetest-bin"); b.err != nil {
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		b.path = filepath.Join(b.dir, "mini")
		cmd := exec.Command(goBin, "build", "-o", b.path, ".")
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.err = fmt.Errorf("go build: %w\n%s", err, out.String())
		}
	})
	if b.err != nil {
		t.Fatalf("the mini binary: %v", b.err)
	}
	return b.path
}

func (b *binary) remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
