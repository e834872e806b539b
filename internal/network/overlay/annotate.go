package overlay

import (
	"context"
	"encoding/json"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// annotate puts this node's lease annotations on its Node (mac is the
// VTEP's, for vxlan), as flannel does when it acquires its lease: a
// strategic merge patch of the annotations alone, so nothing else on the
// Node is touched, and only when something differs.
func (o *Overlay) annotate(ctx context.Context, self *corev1.Node, mac net.HardwareAddr) error {
	want := wantAnnotations(o.cfg.Backend, o.cfg.PublicIP, o.cfg.VNI, mac)
	if !annotationsDiffer(self, want) {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": want}})
	if err != nil {
		return err
	}
	if _, err := o.cfg.Client.CoreV1().Nodes().Patch(ctx, self.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotate node %s: %w", self.Name, err)
	}
	o.log.Info("annotated node", "node", self.Name, "backendData", want[AnnotationBackendData])
	return nil
}
