package multinodetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"mini.dev/mini/internal/server/multinodetest/harness"
	"mini.dev/mini/internal/testimages"
)

// clusterSpec says what cluster a test wants.
type clusterSpec struct {
	// kind is one letter of the hosts' prefix, mn<kind><pid>.
	kind        byte
	backend     string
	nodes       int
	spare       int
	clusterCIDR string
	first       int
}

// cluster is a harness cluster with the upstream resolver the tests run
// in its client namespace.
type cluster struct {
	*harness.Cluster
	upstream *exec.Cmd
}

// ourHosts matches the hosts' prefixes of this package's runs; the
// submatch is the run's PID.
var ourHosts = regexp.MustCompile(`^mn[a-z](\d+)$`)

// startCluster builds and starts a cluster with the test images in every
// node; it is torn down when t ends, whatever happened, or when the run
// is interrupted.
func startCluster(t *testing.T, s clusterSpec) *cluster {
	t.Helper()
	skipUnlessClusterCanRun(t)
	images, err := testImages()
	if err != nil {
		t.Fatalf("building the test images: %v", err)
	}
	hc, err := harness.New(harness.Spec{
		Bin: miniBin.get(t), Prefix: fmt.Sprintf("mn%c%d", s.kind, os.Getpid()),
		Backend: s.backend, Nodes: s.nodes, Spare: s.spare, ClusterCIDR: s.clusterCIDR,
		FirstNet: s.first, Images: images, LBPool: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{Cluster: hc}
	harness.RemoveStaleHosts(ourHosts, "multinodetest", c.Log)
	live.add(c)
	t.Cleanup(func() {
		if t.Failed() {
			c.PrintLogs(os.Stderr, 120)
		}
		var b bytes.Buffer
		if err := c.teardown(&b); err != nil {
			t.Errorf("tearing down the %s cluster: %v\n%s", s.backend, err, b.String())
		}
	})
	started := time.Now()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.startUpstream(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s cluster of %d nodes on %s.0/24 up in %s", s.backend, s.nodes, c.Hosts.Net, time.Since(started).Round(time.Millisecond))
	return c
}

// teardown stops the upstream resolver and the cluster.
func (c *cluster) teardown(w *bytes.Buffer) error {
	defer live.remove(c)
	if c.upstream != nil && c.upstream.Process != nil {
		c.upstream.Process.Kill()
		c.upstream.Wait()
		c.upstream = nil
	}
	return c.Teardown(w)
}

// kubectl runs kubectl against the cluster with stdin.
func (c *cluster) kubectl(stdin string, args ...string) (string, string, error) {
	return c.Kubectl(time.Minute, stdin, args...)
}

// testImages builds (or finds in the cache the node tests share) busybox
// and httpapp:v1.
func testImages() ([]string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	cache := filepath.Join(dir, "mini", "test-images")
	bb, err := testimages.Busybox(cache)
	if err != nil {
		return nil, err
	}
	app, err := testimages.HTTPApp(cache, "v1")
	if err != nil {
		return nil, err
	}
	return []string{bb, app}, nil
}

// httpAppImage answers GET / with "v1 <hostname>" on port 8080.
const httpAppImage = testimages.HTTPAppRepository + ":v1"
