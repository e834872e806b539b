package apitest

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"

	"mini.dev/mini/internal/store"
)

// A metadata client (what the garbage collector's informers use) lists
// and watches objects as PartialObjectMetadata.
func TestMetadataClientListAndWatch(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mc, err := metadata.NewForConfig(ts.restConfig(ts.kubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	cms := corev1.SchemeGroupVersion.WithResource("configmaps")
	if _, err := ts.client().CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "first", Labels: map[string]string{"a": "b"}}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := mc.Resource(cms).Namespace("default").List(ctx, metav1.ListOptions{LabelSelector: "a=b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "first" || list.Items[0].UID == "" {
		t.Fatalf("list: %+v", list.Items)
	}
	w, err := mc.Resource(cms).Namespace("default").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := ts.client().CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "second"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		p, ok := ev.Object.(*metav1.PartialObjectMetadata)
		if ev.Type != watch.Added || !ok || p.Name != "second" || p.UID == "" {
			t.Fatalf("event %s %#v", ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no watch event")
	}
}
