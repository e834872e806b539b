package apitest

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"mini.dev/mini/internal/store"
)

// protobufClient is a client that speaks protobuf, as the server's own
// components and kube-controller-manager do.
func (ts *testServer) protobufClient() (kubernetes.Interface, *rest.Config) {
	ts.t.Helper()
	cfg := ts.restConfig(ts.kubeconfig)
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		ts.t.Fatal(err)
	}
	return c, cfg
}

// A protobuf client gets, lists and watches the same objects a JSON
// client does.
func TestProtobufGetListWatchMatchJSON(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pb, _ := ts.protobufClient()
	js := ts.client()

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"app": "x"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	created, err := pb.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fromPB, err := pb.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := js.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !apiequality.Semantic.DeepEqual(fromPB, fromJSON) || !apiequality.Semantic.DeepEqual(created, fromJSON) {
		t.Fatalf("get differs:\nprotobuf %+v\njson     %+v", fromPB, fromJSON)
	}
	listPB, err := pb.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	listJSON, err := js.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if listPB.ResourceVersion != listJSON.ResourceVersion || !apiequality.Semantic.DeepEqual(listPB.Items, listJSON.Items) {
		t.Fatalf("list differs:\nprotobuf %+v\njson     %+v", listPB, listJSON)
	}

	// Two watchers of each kind share the frames of each form.
	var watchers []watch.Interface
	for _, c := range []kubernetes.Interface{pb, js, pb, js} {
		w, err := c.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: listJSON.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		watchers = append(watchers, w)
	}
	fromPB.Labels["app"] = "y"
	if _, err := pb.CoreV1().Pods("default").Update(ctx, fromPB, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: pod.Spec}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pb.CoreV1().Pods("default").Delete(ctx, "a", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	var want []watch.Event
	for i, w := range watchers {
		var got []watch.Event
		for len(got) < 3 {
			select {
			case ev := <-w.ResultChan():
				got = append(got, ev)
			case <-ctx.Done():
				t.Fatalf("watcher %d: %d events of 3", i, len(got))
			}
		}
		if want == nil {
			want = got
			continue
		}
		for j := range got {
			if got[j].Type != want[j].Type || !apiequality.Semantic.DeepEqual(got[j].Object, want[j].Object) {
				t.Fatalf("watcher %d event %d: %s %+v, want %s %+v", i, j, got[j].Type, got[j].Object, want[j].Type, want[j].Object)
			}
		}
	}
	types := []watch.EventType{want[0].Type, want[1].Type, want[2].Type}
	if types[0] != watch.Modified || types[1] != watch.Added || types[2] != watch.Deleted {
		t.Fatalf("events %v", types)
	}
}

// A protobuf watch is what kube-apiserver writes: Content-Type
// application/vnd.kubernetes.protobuf;stream=watch and frames of a 4-byte
// big-endian length and a protobuf metav1.WatchEvent, whose object is in
// the "k8s\x00" envelope. Tables have no protobuf form and come as JSON.
func TestProtobufWatchFraming(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, cfg := ts.protobufClient()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"one", "two"} {
		if _, err := ts.client().CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"test": "framing"}}, Data: map[string]string{"k": name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(accept string) (string, []byte) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet,
			cfg.Host+"/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&labelSelector=test%3Dframing", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", accept)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Get("Content-Type"), body
	}

	ct, body := get(runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON)
	if ct != "application/vnd.kubernetes.protobuf;stream=watch" {
		t.Fatalf("Content-Type %q", ct)
	}
	var names []string
	for len(body) > 0 {
		if len(body) < 4 {
			t.Fatalf("%d bytes left after the frames", len(body))
		}
		n := binary.BigEndian.Uint32(body)
		if int(n) > len(body)-4 {
			t.Fatalf("frame of %d bytes, %d left", n, len(body)-4)
		}
		var ev metav1.WatchEvent
		if err := ev.Unmarshal(body[4 : 4+n]); err != nil {
			t.Fatal(err)
		}
		body = body[4+n:]
		if !bytes.HasPrefix(ev.Object.Raw, []byte("k8s\x00")) {
			t.Fatalf("object not in the protobuf envelope: %q", ev.Object.Raw)
		}
		obj, err := runtime.Decode(scheme.Codecs.UniversalDeserializer(), ev.Object.Raw)
		if err != nil {
			t.Fatal(err)
		}
		cm, ok := obj.(*corev1.ConfigMap)
		if ev.Type != string(watch.Added) || !ok {
			t.Fatalf("event %s %T", ev.Type, obj)
		}
		names = append(names, cm.Name)
	}
	if len(names) != 2 || names[0] != "one" || names[1] != "two" {
		t.Fatalf("events of %v", names)
	}

	ct, body = get(runtime.ContentTypeProtobuf + ";as=Table;g=meta.k8s.io;v=v1")
	if ct != runtime.ContentTypeJSON || !bytes.HasPrefix(body, []byte(`{"type":"ADDED","object":{"kind":"Table"`)) {
		t.Fatalf("table watch: %s %.100s", ct, body)
	}
}
