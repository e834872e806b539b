package apitest

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"mini.dev/mini/internal/apiserver"
	"mini.dev/mini/internal/cli"
	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// kubectlChildEnv makes the test binary act as `mini kubectl`: kubectl
// exits the process on errors, so it runs as a child, as a user runs it.
const kubectlChildEnv = "MINI_APITEST_KUBECTL"

func TestMain(m *testing.M) {
	if os.Getenv(kubectlChildEnv) == "1" {
		err := cli.Run(context.Background(), append([]string{"kubectl"}, os.Args[1:]...),
			cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testServer is a running API with its store and an admin kubeconfig.
type testServer struct {
	t          *testing.T
	store      *store.Store
	ca         *pki.CA
	reg        *registry.Registry
	cert, key  []byte
	saKey      crypto.Signer
	addr       string
	stopAPI    func()
	kubeconfig string
	home       string
}

func startServer(t *testing.T, cfg store.Config) *testServer {
	t.Helper()
	dir := t.TempDir()
	cfg.Dir = filepath.Join(dir, "data")
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, store: st, home: filepath.Join(dir, "home")}
	if ts.ca, err = pki.LoadOrCreateCA(filepath.Join(dir, "tls")); err != nil {
		t.Fatal(err)
	}
	ts.cert, ts.key, err = ts.ca.Issue(pki.Request{CommonName: "apiserver", DNSNames: []string{"localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	if ts.reg, err = registry.Builtin(); err != nil {
		t.Fatal(err)
	}
	if ts.saKey, err = pki.LoadOrCreateKey(filepath.Join(dir, "tls", "service-account.key")); err != nil {
		t.Fatal(err)
	}
	ts.addr, ts.stopAPI = ts.runAPI("127.0.0.1:0")
	ts.kubeconfig = ts.writeKubeconfig("admin", "system:admin", "system:masters")
	t.Cleanup(func() {
		ts.stopAPI()
		if err := st.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		st.Close()
	})
	return ts
}

// runAPI runs an API server on the test's store and returns its address
// and a function that stops it (safe to call twice).
func (ts *testServer) runAPI(listen string) (string, func()) {
	ts.t.Helper()
	api, err := apiserver.New(apiserver.Config{Store: ts.store, Registry: ts.reg, CA: ts.ca,
		CertPEM: ts.cert, KeyPEM: ts.key, ServiceAccountKey: ts.saKey, Listen: listen})
	if err != nil {
		ts.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Run(ctx) }()
	select {
	case <-api.Ready():
	case err := <-done:
		ts.t.Fatalf("api: %v", err)
	}
	var once sync.Once
	return api.Addr(), func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				ts.t.Errorf("api: %v", err)
			}
		})
	}
}

// writeKubeconfig writes a kubeconfig for a user with a client
// certificate and returns its path.
func (ts *testServer) writeKubeconfig(file, user string, groups ...string) string {
	ts.t.Helper()
	certPEM, keyPEM, err := ts.ca.Issue(pki.Request{CommonName: user, Organization: groups})
	if err != nil {
		ts.t.Fatal(err)
	}
	b, err := pki.Kubeconfig{Server: "https://" + ts.addr, Name: "mini", CAPEM: ts.ca.CertPEM, CertPEM: certPEM, KeyPEM: keyPEM}.Bytes()
	if err != nil {
		ts.t.Fatal(err)
	}
	path := filepath.Join(ts.t.TempDir(), file+".kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		ts.t.Fatal(err)
	}
	return path
}

// restConfig is client-go's configuration for a kubeconfig.
func (ts *testServer) restConfig(kubeconfig string) *rest.Config {
	ts.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		ts.t.Fatal(err)
	}
	return cfg
}

func (ts *testServer) client() kubernetes.Interface {
	ts.t.Helper()
	c, err := kubernetes.NewForConfig(ts.restConfig(ts.kubeconfig))
	if err != nil {
		ts.t.Fatal(err)
	}
	return c
}

// kubectl runs the bundled kubectl as the admin with args and stdin, and
// returns its stdout, stderr and exit error.
func (ts *testServer) kubectlAs(kubeconfig, stdin string, args ...string) (string, string, error) {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), kubectlChildEnv+"=1", "KUBECONFIG="+kubeconfig, "HOME="+ts.home)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// kubectl runs kubectl as the admin and fails the test if it fails.
func (ts *testServer) kubectl(args ...string) string {
	ts.t.Helper()
	out, errOut, err := ts.kubectlAs(ts.kubeconfig, "", args...)
	if err != nil {
		ts.t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// kubectlFails runs kubectl, expects it to fail, and returns its stderr.
func (ts *testServer) kubectlFails(args ...string) string {
	ts.t.Helper()
	out, errOut, err := ts.kubectlAs(ts.kubeconfig, "", args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		ts.t.Fatalf("kubectl %s succeeded: %s", strings.Join(args, " "), out)
	}
	return errOut
}
