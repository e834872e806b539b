package registry

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ComponentStatuses are read-only: upstream synthesizes them on every get
// and list by probing the control plane (scheduler, controller-manager,
// each etcd member) and stores nothing. The server must do the same for
// mini's components; this only describes the resource and its table.
func ComponentStatuses() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("componentstatuses"),
		Kind:         "ComponentStatus",
		SingularName: "componentstatus",
		ShortNames:   []string{"cs"},
		ReadOnly:     true,
		New:          func() runtime.Object { return &corev1.ComponentStatus{} },
		NewList:      func() runtime.Object { return &corev1.ComponentStatusList{} },
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Status", Type: "string", Description: "Status of the component conditions"},
			{Name: "Message", Type: "string", Description: "Message of the component conditions"},
			{Name: "Error", Type: "string", Description: "Error of the component conditions"},
		},
		Cells: func(obj runtime.Object) []any {
			cs := obj.(*corev1.ComponentStatus)
			status, message, errMsg := "Unknown", "", ""
			for _, c := range cs.Conditions {
				if c.Type == corev1.ComponentHealthy {
					status = "Unhealthy"
					if c.Status == corev1.ConditionTrue {
						status = "Healthy"
					}
					message, errMsg = c.Message, c.Error
					break
				}
			}
			return []any{cs.Name, status, message, errMsg}
		},
	}
}
