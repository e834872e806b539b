package nodeipam

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

func node(name string, cidrs ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if len(cidrs) > 0 {
		n.Spec.PodCIDR = cidrs[0]
		n.Spec.PodCIDRs = cidrs
	}
	return n
}

// start runs a controller over a fake clientset holding objs.
func start(t *testing.T, cfg Config, objs ...runtime.Object) (*fake.Clientset, *record.FakeRecorder) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(100)
	cfg.Client, cfg.Informers, cfg.Recorder = client, factory, rec
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	return client, rec
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func podCIDRs(t *testing.T, client *fake.Clientset, name string) []string {
	t.Helper()
	n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return n.Spec.PodCIDRs
}

func TestAllocate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		nodes []*corev1.Node
		want  map[string]string // node -> podCIDRs joined by ","
	}{{
		name:  "fresh nodes get /24s in order",
		cfg:   Config{ClusterCIDR: "10.42.0.0/16"},
		nodes: []*corev1.Node{node("a")},
		want:  map[string]string{"a": "10.42.0.0/24"},
	}, {
		name:  "restart: existing CIDRs are occupied before allocating",
		cfg:   Config{ClusterCIDR: "10.42.0.0/16"},
		nodes: []*corev1.Node{node("old0", "10.42.0.0/24"), node("old1", "10.42.1.0/24"), node("new")},
		want:  map[string]string{"old0": "10.42.0.0/24", "old1": "10.42.1.0/24", "new": "10.42.2.0/24"},
	}, {
		name:  "configurable mask",
		cfg:   Config{ClusterCIDR: "10.0.0.0/8", NodeMaskSize: 16},
		nodes: []*corev1.Node{node("a", "10.0.0.0/16"), node("b")},
		want:  map[string]string{"a": "10.0.0.0/16", "b": "10.1.0.0/16"},
	}, {
		name:  "dual-stack",
		cfg:   Config{ClusterCIDR: "10.42.0.0/16,fd00:42::/56"},
		nodes: []*corev1.Node{node("a")},
		want:  map[string]string{"a": "10.42.0.0/24,fd00:42::/64"},
	}, {
		name:  "a CIDR outside the range is kept as it is",
		cfg:   Config{ClusterCIDR: "10.42.0.0/16"},
		nodes: []*corev1.Node{node("a", "192.168.0.0/24"), node("b")},
		want:  map[string]string{"a": "192.168.0.0/24", "b": "10.42.0.0/24"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, n := range tt.nodes {
				objs = append(objs, n)
			}
			client, _ := start(t, tt.cfg, objs...)
			for name, want := range tt.want {
				waitFor(t, "node "+name+" to get "+want, func() bool {
					return strings.Join(podCIDRs(t, client, name), ",") == want
				})
				n, _ := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
				if n.Spec.PodCIDR != strings.Split(want, ",")[0] {
					t.Errorf("node %s spec.podCIDR = %q, want the first of %q", name, n.Spec.PodCIDR, want)
				}
			}
		})
	}
}

func TestReleaseOnDelete(t *testing.T) {
	// A /23 cut into /24s: room for two nodes.
	client, rec := start(t, Config{ClusterCIDR: "10.42.0.0/23"}, node("a"), node("b"))
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		waitFor(t, n+" allocated", func() bool { return len(podCIDRs(t, client, n)) == 1 })
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, node("c"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ev string
	waitFor(t, "CIDRNotAvailable event", func() bool {
		select {
		case ev = <-rec.Events:
			return strings.HasPrefix(ev, "Normal CIDRNotAvailable")
		default:
			return false
		}
	})
	if want := "Normal CIDRNotAvailable Node c status is now: CIDRNotAvailable"; ev != want {
		t.Errorf("event = %q, want %q", ev, want)
	}
	freed := podCIDRs(t, client, "a")[0]
	if err := client.CoreV1().Nodes().Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// c is retried after the release; re-adding it triggers that at once.
	if err := client.CoreV1().Nodes().Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, node("c"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c to get the freed CIDR "+freed, func() bool {
		got := podCIDRs(t, client, "c")
		return len(got) == 1 && got[0] == freed
	})
}

func TestNewRejects(t *testing.T) {
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	for _, cidr := range []string{"", "nonsense", "10.42.0.0/16,10.43.0.0/16", "10.42.0.0/25"} {
		if _, err := New(Config{Client: client, Informers: factory, ClusterCIDR: cidr}); err == nil {
			t.Errorf("New(ClusterCIDR %q) succeeded, want an error", cidr)
		}
	}
}
