package overlay

import (
	"log/slog"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestAnnotate(t *testing.T) {
	tests := []struct {
		name      string
		backend   string
		node      *corev1.Node
		wantPatch bool
	}{
		{"fresh node", BackendVXLAN, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: selfName, Annotations: map[string]string{"other": "kept"}}}, true},
		{"already annotated", BackendVXLAN, node(1, BackendVXLAN, withAnnotation("other", "kept")), false},
		{"MAC changed", BackendVXLAN, node(1, BackendVXLAN, withAnnotation("other", "kept"),
			withAnnotation(AnnotationBackendData, `{"VNI":1,"VtepMAC":"02:00:00:00:00:09"}`)), true},
		{"backend switched", BackendHostGW, node(1, BackendVXLAN, withAnnotation("other", "kept")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(tt.node)
			o := &Overlay{cfg: Config{Client: client, Backend: tt.backend, PublicIP: selfIP, VNI: 1}, log: slog.New(slog.DiscardHandler)}
			var mac = macOf(1)
			if tt.backend != BackendVXLAN {
				mac = nil
			}
			if err := o.annotate(t.Context(), tt.node, mac); err != nil {
				t.Fatal(err)
			}
			patched := 0
			for _, a := range client.Actions() {
				if a.GetVerb() == "patch" {
					patched++
				}
			}
			if (patched > 0) != tt.wantPatch {
				t.Errorf("%d patches, want patch %v", patched, tt.wantPatch)
			}
			got, err := client.CoreV1().Nodes().Get(t.Context(), selfName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := wantAnnotations(tt.backend, selfIP, 1, mac)
			want["other"] = "kept"
			if !reflect.DeepEqual(got.Annotations, want) {
				t.Errorf("annotations %v, want %v", got.Annotations, want)
			}
		})
	}
}
