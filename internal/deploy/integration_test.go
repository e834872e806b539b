package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"mini.dev/mini/internal/deploy"
	"mini.dev/mini/internal/server"
)

// logBuffer collects the server's log lines for the test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines(substrs ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for l := range strings.SplitSeq(b.buf.String(), "\n") {
		all := true
		for _, s := range substrs {
			all = all && strings.Contains(l, s)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}

// startServer runs a server (no node) on dataDir until stop is called.
func startServer(t *testing.T, dataDir string, logs *logBuffer, disable ...string) (kubernetes.Interface, func()) {
	t.Helper()
	srv, err := server.New(server.Config{
		DataDir: dataDir, BindAddress: "127.0.0.1", AdvertiseAddress: "127.0.0.1",
		Disable: disable, ManifestResync: time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("server: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server not ready in 60s")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client, stop
}

// eventually polls cond until it holds; the deadline only bounds a
// failure.
func eventually(t *testing.T, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 60*time.Second, true, cond)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// Through a temporary file and a rename, as editors do, so that no
	// poll sees half a file.
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func configMap(name, ns, value string) string {
	meta := fmt.Sprintf("name: %q", name) // quoted: YAML 1.1 reads a bare off as false
	if ns != "" {
		meta += fmt.Sprintf("\n  namespace: %q", ns)
	}
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  %s\ndata:\n  v: %q\n", meta, value)
}

// configMapValue is the ConfigMap's data.v, or "" when it does not exist.
func configMapValue(ctx context.Context, c kubernetes.Interface, ns, name string) (string, error) {
	cm, err := c.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return cm.Data["v"], nil
}

func hasValue(c kubernetes.Interface, ns, name, want string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		v, err := configMapValue(ctx, c, ns, name)
		return v == want, err
	}
}

func gone(c kubernetes.Interface, ns, name string) func(context.Context) (bool, error) {
	return hasValue(c, ns, name, "")
}

func TestManifests(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server twice")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	dir := server.ManifestsDir(dataDir)
	logs := &logBuffer{}
	defer func() {
		if t.Failed() {
			t.Log(logs.buf.String())
		}
	}()

	// Here before the server: applied at start; off.yaml until disabled,
	// later.yaml until removed while the server is down.
	writeFile(t, filepath.Join(dir, "off.yaml"), configMap("off", "", "1"))
	writeFile(t, filepath.Join(dir, "later.yaml"), configMap("later", "", "1"))
	c, stop := startServer(t, dataDir, logs)

	t.Run("kube-dns", func(t *testing.T) {
		svcs := c.CoreV1().Services("kube-system")
		eventually(t, "kube-dns Service at 10.43.0.10", func(ctx context.Context) (bool, error) {
			svc, err := svcs.Get(ctx, "kube-dns", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			if svc.Spec.ClusterIP != "10.43.0.10" || svc.Labels["mini.dev/node-local"] != "true" || len(svc.Spec.Ports) != 3 {
				return false, fmt.Errorf("kube-dns is %+v", svc)
			}
			return svc.Annotations[deploy.SourceAnnotation] == "builtin:kube-dns.yaml", nil
		})
		if err := svcs.Delete(context.Background(), "kube-dns", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "kube-dns Service back after deletion", func(ctx context.Context) (bool, error) {
			svc, err := svcs.Get(ctx, "kube-dns", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return err == nil && svc.Spec.ClusterIP == "10.43.0.10", err
		})
	})

	t.Run("files", func(t *testing.T) {
		eventually(t, "off.yaml applied at start", hasValue(c, "default", "off", "1"))
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("manifests dir not made: %v", err)
		}

		web := filepath.Join(dir, "apps", "web.yaml")
		writeFile(t, web, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n---\n"+
			configMap("a", "web", "1")+"---\n"+configMap("b", "", "1"))
		eventually(t, "web.yaml applied", hasValue(c, "web", "a", "1"))
		eventually(t, "b in default", hasValue(c, "default", "b", "1"))
		cm, err := c.CoreV1().ConfigMaps("web").Get(context.Background(), "a", metav1.GetOptions{})
		if err != nil || cm.Annotations[deploy.SourceAnnotation] != "apps/web.yaml" {
			t.Fatalf("annotation %v, %v", cm.Annotations, err)
		}

		// Edited: a changes, b leaves the file and the cluster.
		edited := time.Now()
		writeFile(t, web, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n---\n"+configMap("a", "web", "2"))
		eventually(t, "a updated", hasValue(c, "web", "a", "2"))
		t.Logf("an edit is applied in %v", time.Since(edited).Round(time.Millisecond))
		eventually(t, "b deleted", gone(c, "default", "b"))

		// An object moved to another file stays.
		writeFile(t, filepath.Join(dir, "zz-moved.yaml"), configMap("a", "web", "moved"))
		writeFile(t, web, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n")
		eventually(t, "a taken over by zz-moved.yaml", hasValue(c, "web", "a", "moved"))
		if err := os.Remove(filepath.Join(dir, "zz-moved.yaml")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a deleted with zz-moved.yaml", gone(c, "web", "a"))

		// Removed: its objects go.
		writeFile(t, web, configMap("c", "", "1"))
		eventually(t, "c applied", hasValue(c, "default", "c", "1"))
		if err := os.Remove(web); err != nil {
			t.Fatal(err)
		}
		eventually(t, "c deleted with its file", gone(c, "default", "c"))
	})

	t.Run("skip", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "skipped.yaml.skip"), "")
		writeFile(t, filepath.Join(dir, "skipped.yaml"), configMap("skipped", "", "1"))
		writeFile(t, filepath.Join(dir, "zz-marker.yaml"), configMap("marker", "", "1"))
		eventually(t, "marker applied", hasValue(c, "default", "marker", "1"))
		if v, err := configMapValue(context.Background(), c, "default", "skipped"); err != nil || v != "" {
			t.Fatalf("skipped.yaml applied: %q, %v", v, err)
		}
		if err := os.Remove(filepath.Join(dir, "skipped.yaml.skip")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "applied once not skipped", hasValue(c, "default", "skipped", "1"))
	})

	t.Run("adopted", func(t *testing.T) {
		// What existed before a file held it is updated but never pruned:
		// a file naming kube-system, or an app made with kubectl.
		ctx := context.Background()
		if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "mine"}, Data: map[string]string{"v": "0"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		adopt := filepath.Join(dir, "adopt.yaml")
		writeFile(t, adopt, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-system\n---\n"+configMap("mine", "", "1"))
		eventually(t, "mine updated from adopt.yaml", hasValue(c, "default", "mine", "1"))
		recorded := func(want bool) func(context.Context) (bool, error) {
			return func(ctx context.Context) (bool, error) {
				rec, err := c.CoreV1().ConfigMaps("kube-system").Get(ctx, "mini-manifests", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				return strings.Contains(rec.Data["sources.json"], `"adopt.yaml"`) == want, nil
			}
		}
		eventually(t, "adopt.yaml recorded", recorded(true))
		if err := os.Remove(adopt); err != nil {
			t.Fatal(err)
		}
		eventually(t, "adopt.yaml's removal handled", recorded(false))
		if v, err := configMapValue(ctx, c, "default", "mine"); err != nil || v != "1" {
			t.Fatalf("mine after its file went: %q, %v", v, err)
		}
		if _, err := c.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
			t.Fatalf("kube-system after adopt.yaml went: %v", err)
		}
	})

	t.Run("broken", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "bad-yaml.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")
		writeFile(t, filepath.Join(dir, "bad-kind.yaml"), "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n---\n"+configMap("beside-widget", "", "1"))
		writeFile(t, filepath.Join(dir, "bad-object.yaml"), "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 70000\n")
		writeFile(t, filepath.Join(dir, "good.yaml"), configMap("good", "", "1"))
		eventually(t, "good.yaml applied beside broken ones", hasValue(c, "default", "good", "1"))
		eventually(t, "errors logged", func(context.Context) (bool, error) {
			return len(logs.lines("manifest not applied", "bad-yaml.yaml", "document 1")) == 1 &&
				len(logs.lines("manifest not applied", "bad-kind.yaml", `object="Widget w"`, "no matches for kind")) == 1 &&
				len(logs.lines("manifest not applied", "bad-object.yaml", `object="Service bad"`, "spec.ports[0].port")) == 1, nil
		})
		// The rest of a file with a bad object is applied.
		eventually(t, "beside-widget applied", hasValue(c, "default", "beside-widget", "1"))
		// Fixed: applied.
		writeFile(t, filepath.Join(dir, "bad-yaml.yaml"), configMap("fixed", "", "1"))
		eventually(t, "fixed file applied", hasValue(c, "default", "fixed", "1"))
		// Resyncs (each seen bringing back a deleted object) retry the
		// broken files but do not log them again, and write nothing
		// where nothing changed.
		before, err := c.CoreV1().Services("kube-system").Get(context.Background(), "kube-dns", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := c.CoreV1().ConfigMaps("default").Delete(context.Background(), "good", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "good back after a resync", hasValue(c, "default", "good", "1"))
		}
		after, err := c.CoreV1().Services("kube-system").Get(context.Background(), "kube-dns", metav1.GetOptions{})
		if err != nil || after.ResourceVersion != before.ResourceVersion {
			t.Errorf("kube-dns rewritten by a resync: resourceVersion %s, then %s (%v)", before.ResourceVersion, after.ResourceVersion, err)
		}
		for _, f := range []string{"bad-kind.yaml", "bad-object.yaml"} {
			if n := len(logs.lines("level=ERROR", f)); n != 1 {
				t.Errorf("%s logged %d times, want once", f, n)
			}
		}
	})

	// Restart with --disable off --disable kube-dns, later.yaml removed
	// while the server is down.
	stop()
	if err := os.Remove(filepath.Join(dir, "later.yaml")); err != nil {
		t.Fatal(err)
	}
	// A file using a namespace a later file makes: applied in one pass.
	writeFile(t, filepath.Join(dir, "aa-app.yaml"), configMap("app", "zz-ns", "1"))
	writeFile(t, filepath.Join(dir, "zz-ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: zz-ns\n")
	c, _ = startServer(t, dataDir, logs, "off", "kube-dns")
	t.Run("disable", func(t *testing.T) {
		eventually(t, "off.yaml's objects deleted", gone(c, "default", "off"))
		eventually(t, "later.yaml's objects deleted", gone(c, "default", "later"))
		eventually(t, "kube-dns deleted", func(ctx context.Context) (bool, error) {
			_, err := c.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
		if _, err := os.Stat(filepath.Join(dir, "off.yaml")); err != nil {
			t.Errorf("a disabled file is kept on disk: %v", err)
		}
		eventually(t, "good.yaml still applied", hasValue(c, "default", "good", "1"))
	})
	t.Run("order", func(t *testing.T) {
		eventually(t, "aa-app.yaml applied after zz-ns.yaml", hasValue(c, "zz-ns", "app", "1"))
		if l := logs.lines("manifest not applied", "aa-app.yaml"); len(l) > 0 {
			t.Errorf("logged %q", l)
		}
	})
}
