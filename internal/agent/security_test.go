package agent

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestVerifyRunAsNonRoot(t *testing.T) {
	pod := func(podSC *corev1.PodSecurityContext, cSC *corev1.SecurityContext) (*corev1.Pod, *corev1.Container) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"},
			Spec: corev1.PodSpec{SecurityContext: podSC, Containers: []corev1.Container{{Name: "c", SecurityContext: cSC}}}}
		return p, &p.Spec.Containers[0]
	}
	nonRoot := &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}
	tests := []struct {
		name      string
		podSC     *corev1.PodSecurityContext
		cSC       *corev1.SecurityContext
		imageUser string
		wantErr   string
	}{
		{name: "not asked", imageUser: ""},
		{name: "image root by default", podSC: nonRoot, wantErr: "image will run as root"},
		{name: "image uid 0", podSC: nonRoot, imageUser: "0:0", wantErr: "image will run as root"},
		{name: "image uid 1000", podSC: nonRoot, imageUser: "1000:1000"},
		{name: "image user name", podSC: nonRoot, imageUser: "app", wantErr: "image has non-numeric user (app), cannot verify"},
		{name: "runAsUser 0", podSC: nonRoot, cSC: &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)}, imageUser: "1000",
			wantErr: `container's runAsUser breaks non-root policy (pod: "p_ns(u)", container: c)`},
		{name: "runAsUser decides over a root image", podSC: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000)}},
		{name: "container turns it off", podSC: nonRoot, cSC: &corev1.SecurityContext{RunAsNonRoot: ptr.To(false)}},
		{name: "container turns it on", cSC: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)}, wantErr: "image will run as root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, c := pod(tt.podSC, tt.cSC)
			err := verifyRunAsNonRoot(p, c, tt.imageUser)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
