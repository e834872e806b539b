package resourcequota

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"

	"mini.dev/mini/internal/controller/resourcequota/usage"
)

func list(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func pod(name string, phase corev1.PodPhase, requests corev1.ResourceList) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{Requests: requests}}}},
		Status: corev1.PodStatus{Phase: phase}}
}

func quota(name string, hard corev1.ResourceList, scopes ...corev1.ResourceQuotaScope) *corev1.ResourceQuota {
	return &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ResourceQuotaSpec{Hard: hard, Scopes: scopes}}
}

// start runs a controller over a fake clientset holding objs.
func start(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory, Clock: testingclock.NewFakeClock(time.Now())})
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
	return client
}

// waitForStatus polls the quota until its status is hard and used.
func waitForStatus(t *testing.T, client *fake.Clientset, name string, hard, used corev1.ResourceList) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var q *corev1.ResourceQuota
	for time.Now().Before(deadline) {
		var err error
		if q, err = client.CoreV1().ResourceQuotas("default").Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		if usage.Equal(q.Status.Hard, hard) && usage.Equal(q.Status.Used, used) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("quota %s: hard %s used %s, want %s and %s", name, usage.String(q.Status.Hard), usage.String(q.Status.Used),
		usage.String(hard), usage.String(used))
}

func TestRecount(t *testing.T) {
	compute := list("pods", "3", "requests.cpu", "2", "limits.memory", "1Gi")
	objects := list("count/configmaps", "2", "services.loadbalancers", "1", "count/deployments.apps", "1")
	client := start(t,
		quota("compute", compute), quota("objects", objects),
		quota("besteffort", list("pods", "5"), corev1.ResourceQuotaScopeBestEffort),
		pod("a", corev1.PodRunning, list("cpu", "500m")), pod("b", corev1.PodRunning, list("cpu", "500m")),
		pod("done", corev1.PodSucceeded, list("cpu", "1")), pod("idle", corev1.PodRunning, nil),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "default"}})

	// Counted from what exists: finished pods cost nothing, and what no
	// object uses reads zero.
	waitForStatus(t, client, "compute", compute, list("pods", "3", "requests.cpu", "1", "limits.memory", "0"))
	waitForStatus(t, client, "objects", objects, list("count/configmaps", "1", "services.loadbalancers", "0", "count/deployments.apps", "0"))
	waitForStatus(t, client, "besteffort", list("pods", "5"), list("pods", "1"))

	// A deleted pod's share comes back.
	ctx := context.Background()
	if err := client.CoreV1().Pods("default").Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForStatus(t, client, "compute", compute, list("pods", "2", "requests.cpu", "500m", "limits.memory", "0"))

	// So does a pod's that finishes.
	b, err := client.CoreV1().Pods("default").Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Status.Phase = corev1.PodFailed
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForStatus(t, client, "compute", compute, list("pods", "1", "requests.cpu", "0", "limits.memory", "0"))

	// A new limit is taken up at once.
	q, err := client.CoreV1().ResourceQuotas("default").Get(ctx, "objects", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q.Spec.Hard = list("count/configmaps", "4")
	if _, err := client.CoreV1().ResourceQuotas("default").Update(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForStatus(t, client, "objects", list("count/configmaps", "4"), list("count/configmaps", "1"))
}
