package apitest

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"mini.dev/mini/internal/store"
)

func TestStaleUpdateConflicts(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx := context.Background()
	cms := ts.client().CoreV1().ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale := cm.DeepCopy()
	cm.Data["a"] = "2"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale.Data["a"] = "3"
	_, err = cms.Update(ctx, stale, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("stale update: %v, want 409 Conflict", err)
	}
	if !strings.Contains(err.Error(), `Operation cannot be fulfilled on configmaps "c": the object has been modified`) {
		t.Errorf("conflict message: %v", err)
	}
	got, _ := cms.Get(ctx, "c", metav1.GetOptions{})
	if got.Data["a"] != "2" {
		t.Errorf("stale update changed the object: %v", got.Data)
	}
}

func TestUnauthenticatedAndForbidden(t *testing.T) {
	ts := startServer(t, store.Config{})
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for path, want := range map[string]int{
		"/healthz": 200, "/livez": 200, "/readyz": 200, "/version": 200,
		"/api": 401, "/api/v1/namespaces": 401, "/apis": 401,
	} {
		resp, err := insecure.Get("https://" + ts.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s without credentials: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// A user with a valid certificate but no rights gets 403, worded as upstream.
	alice := ts.writeKubeconfig("alice", "alice", "dev")
	_, errOut, err := ts.kubectlAs(alice, "", "get", "configmaps")
	if err == nil || !strings.Contains(errOut, `configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "default"`) {
		t.Fatalf("alice: %v %s", err, errOut)
	}
}

// TestKubectlGetWatch runs `kubectl get -w` and checks it prints the
// existing object, then each change, as on a real cluster.
func TestKubectlGetWatch(t *testing.T) {
	ts := startServer(t, store.Config{})
	ts.kubectl("create", "configmap", "w1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "get", "cm", "-w")
	cmd.Env = append(os.Environ(), kubectlChildEnv+"=1", "KUBECONFIG="+ts.kubeconfig, "HOME="+ts.home)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := bufio.NewScanner(out)
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("kubectl get -w ended: %v", lines.Err())
		}
		return lines.Text()
	}
	mustContain(t, next(), `^NAME\s+DATA\s+AGE$`)
	mustContain(t, next(), `^kube-root-ca.crt\s+1\s+\d+s$`) // in every namespace, as on any cluster
	mustContain(t, next(), `^w1\s+0\s+\d+s$`)
	ts.kubectl("create", "configmap", "w2", "--from-literal=a=b")
	mustContain(t, next(), `^w2\s+1\s+\d+s$`)
	ts.kubectl("patch", "cm", "w1", "-p", `{"data":{"x":"y","z":"w"}}`)
	mustContain(t, next(), `^w1\s+2\s+\d+s$`)
}

// TestInformerSurvivesCompaction: a client-go informer whose watch must
// resume from a revision that has been compacted meanwhile gets 410 Gone,
// re-lists and ends up with the right state.
func TestInformerSurvivesCompaction(t *testing.T) {
	ts := startServer(t, store.Config{HistoryCount: 5})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := ts.client()
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace("default"))
	informer := factory.Core().V1().ConfigMaps().Informer()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("informer did not sync")
	}
	create := func(cms interface {
		Create(context.Context, *corev1.ConfigMap, metav1.CreateOptions) (*corev1.ConfigMap, error)
	}, from, to int) {
		for i := from; i < to; i++ {
			if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i)}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	create(client.CoreV1().ConfigMaps("default"), 0, 5)
	waitForKeys(t, informer, 6) // and kube-root-ca.crt

	// The informer's server goes away; meanwhile another server writes
	// more than the history holds, and the history is compacted.
	ts.stopAPI()
	otherAddr, stopOther := ts.runAPI("127.0.0.1:0")
	other := ts.restConfig(ts.kubeconfig)
	other.Host = "https://" + otherAddr
	otherClient, err := kubernetes.NewForConfig(other)
	if err != nil {
		t.Fatal(err)
	}
	create(otherClient.CoreV1().ConfigMaps("default"), 5, 20)
	stopOther()
	if _, err := ts.store.Compact(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}

	// A watch from before the compaction is answered with 410 Gone.
	_, ts.stopAPI = ts.runAPI(ts.addr)
	cms := client.CoreV1().ConfigMaps("default")
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	ev := <-w.ResultChan()
	w.Stop()
	if status := apierrors.FromObject(ev.Object); ev.Type != watch.Error || !apierrors.IsResourceExpired(status) && !apierrors.IsGone(status) {
		t.Fatalf("watch from a compacted revision: %v %v", ev.Type, ev.Object)
	}
	if _, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: "1", ResourceVersionMatch: metav1.ResourceVersionMatchExact}); !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("exact list at a compacted revision: %v", err)
	}
	// The informer comes back to the same address; only a re-list can
	// tell it about the 15 configmaps written while it was away.
	waitForKeys(t, informer, 21)
}

func waitForKeys(t *testing.T, informer cache.SharedIndexInformer, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(informer.GetStore().ListKeys()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("informer holds %d configmaps, want %d", len(informer.GetStore().ListKeys()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEventsShareStorage: events written through events.k8s.io/v1 are the
// core/v1 events kubectl shows, and the reverse, as upstream stores them.
func TestEventsShareStorage(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx := context.Background()
	c := ts.client()
	now := metav1.NowMicro()
	_, err := c.EventsV1().Events("default").Create(ctx, &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "web.1"}, EventTime: now, Type: corev1.EventTypeNormal,
		Reason: "Scaled", Note: "scaled up to 3", Action: "Scale",
		ReportingController: "mini.dev/test", ReportingInstance: "test-1",
		Regarding: corev1.ObjectReference{Kind: "Deployment", Namespace: "default", Name: "web"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	core, err := c.CoreV1().Events("default").Get(ctx, "web.1", metav1.GetOptions{})
	if err != nil || core.Message != "scaled up to 3" || core.InvolvedObject.Name != "web" {
		t.Fatalf("core view: %v %+v", err, core)
	}
	mustContain(t, ts.kubectl("get", "events"), `Scaled`, `deployment/web`, `scaled up to 3`)
	list, err := c.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Note != "scaled up to 3" {
		t.Fatalf("events.k8s.io list: %v %+v", err, list)
	}
}
