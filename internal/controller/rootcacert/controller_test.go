package rootcacert

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

const caPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func namespace(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
}

func TestSync(t *testing.T) {
	wrong := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: ConfigMapName, ResourceVersion: "3", Labels: map[string]string{"keep": "me"}},
		Data:       map[string]string{DataKey: "edited", "extra": "x"},
	}
	right := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: ConfigMapName, ResourceVersion: "3",
			Annotations: map[string]string{DescriptionAnnotation: Description}},
		Data: map[string]string{DataKey: caPEM},
	}
	tests := []struct {
		name      string
		ns        *corev1.Namespace
		existing  *corev1.ConfigMap
		wantVerb  string // "" for no write
		wantLabel string
	}{
		{"missing is created", namespace("a", corev1.NamespaceActive), nil, "create", ""},
		{"edited is restored, labels kept", namespace("a", corev1.NamespaceActive), wrong, "update", "me"},
		{"correct is left alone", namespace("a", corev1.NamespaceActive), right, "", ""},
		{"terminating namespace is skipped", namespace("a", corev1.NamespaceTerminating), nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{tt.ns}
			if tt.existing != nil {
				objs = append(objs, tt.existing)
			}
			client := fake.NewClientset(objs...)
			factory := informers.NewSharedInformerFactory(client, 0)
			p, err := New(Config{Client: client, Informers: factory, RootCA: []byte(caPEM)})
			if err != nil {
				t.Fatal(err)
			}
			if err := factory.Core().V1().Namespaces().Informer().GetIndexer().Add(tt.ns); err != nil {
				t.Fatal(err)
			}
			if tt.existing != nil {
				if err := factory.Core().V1().ConfigMaps().Informer().GetIndexer().Add(tt.existing); err != nil {
					t.Fatal(err)
				}
			}
			client.ClearActions()
			if err := p.sync(context.Background(), "a"); err != nil {
				t.Fatal(err)
			}
			var verbs []string
			for _, a := range client.Actions() {
				verbs = append(verbs, a.GetVerb())
			}
			if tt.wantVerb == "" {
				if len(verbs) != 0 {
					t.Fatalf("writes %v, want none", verbs)
				}
				return
			}
			if len(verbs) != 1 || verbs[0] != tt.wantVerb {
				t.Fatalf("writes %v, want %s", verbs, tt.wantVerb)
			}
			cm, err := client.CoreV1().ConfigMaps("a").Get(context.Background(), ConfigMapName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(cm.Data) != 1 || cm.Data[DataKey] != caPEM {
				t.Errorf("data %v", cm.Data)
			}
			if cm.Annotations[DescriptionAnnotation] != Description {
				t.Errorf("annotations %v", cm.Annotations)
			}
			if cm.Labels["keep"] != tt.wantLabel {
				t.Errorf("labels %v", cm.Labels)
			}
		})
	}
}

// TestRestoredAfterDeletion runs the publisher on live informers: the
// ConfigMap appears in a new namespace and comes back after deletion.
func TestRestoredAfterDeletion(t *testing.T) {
	client := fake.NewClientset(namespace("a", corev1.NamespaceActive))
	factory := informers.NewSharedInformerFactory(client, 0)
	p, err := New(Config{Client: client, Informers: factory, RootCA: []byte(caPEM)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	factory.Start(ctx.Done())
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		factory.Shutdown()
	}()

	cms := client.CoreV1().ConfigMaps("a")
	waitFor(t, func() bool { _, err := cms.Get(ctx, ConfigMapName, metav1.GetOptions{}); return err == nil })
	if err := cms.Delete(ctx, ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, err := cms.Get(ctx, ConfigMapName, metav1.GetOptions{}); return err == nil })

	// A namespace created later gets one too.
	if _, err := client.CoreV1().Namespaces().Create(ctx, namespace("b", corev1.NamespaceActive), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := client.CoreV1().ConfigMaps("b").Get(ctx, ConfigMapName, metav1.GetOptions{})
		return err == nil
	})
}

func TestNewRequiresRootCA(t *testing.T) {
	client := fake.NewClientset()
	if _, err := New(Config{Client: client, Informers: informers.NewSharedInformerFactory(client, 0)}); err == nil {
		t.Error("New without RootCA succeeded")
	}
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatal("condition not met in time")
	}
}
