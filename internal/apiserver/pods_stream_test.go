package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodContainer(t *testing.T) {
	pod := func(names ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}}
		p.Spec.InitContainers = []corev1.Container{{Name: "init"}}
		for _, n := range names {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		}
		return p
	}
	tests := []struct {
		pod     *corev1.Pod
		name    string
		want    string
		wantErr string
	}{
		{pod("app"), "", "app", ""},
		{pod("app"), "init", "init", ""},
		{pod("a", "b"), "b", "b", ""},
		{pod("a", "b"), "", "", "a container name must be specified for pod web, choose one of: [init a b]"},
		{pod("app"), "nope", "", "container nope is not valid for pod web"},
	}
	for _, tt := range tests {
		got, err := podContainer(tt.pod, tt.name)
		if tt.wantErr != "" {
			if !apierrors.IsBadRequest(err) || err.Error() != tt.wantErr {
				t.Errorf("podContainer(%q) error %v, want BadRequest %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("podContainer(%q) = %q, %v, want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestContainerLogStatus(t *testing.T) {
	withStatus := func(st corev1.ContainerStatus) *corev1.Pod {
		st.Name = "app"
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{st}}}
	}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	terminated := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}
	waiting := func(reason string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
	}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		previous bool
		wantErr  string
	}{
		{"no status yet", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, false, `container "app" in pod "web" is waiting to start: ContainerCreating`},
		{"running", withStatus(corev1.ContainerStatus{State: running}), false, ""},
		{"terminated", withStatus(corev1.ContainerStatus{State: terminated}), false, ""},
		{"crash loop has a last log", withStatus(corev1.ContainerStatus{State: waiting("CrashLoopBackOff"), LastTerminationState: terminated}), false, ""},
		{"image pull", withStatus(corev1.ContainerStatus{State: waiting("ImagePullBackOff")}), false, `container "app" in pod "web" is waiting to start: trying and failing to pull image`},
		{"previous", withStatus(corev1.ContainerStatus{State: running, LastTerminationState: terminated}), true, ""},
		{"no previous", withStatus(corev1.ContainerStatus{State: running}), true, `previous terminated container "app" in pod "web" not found`},
	}
	for _, tt := range tests {
		err := containerLogStatus(tt.pod, "app", tt.previous)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != "" && (!apierrors.IsBadRequest(err) || err.Error() != tt.wantErr):
			t.Errorf("%s: error %v, want BadRequest %q", tt.name, err, tt.wantErr)
		}
	}
}
