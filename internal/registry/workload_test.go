package registry

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// testPod is a minimal valid pod before defaulting.
func testPod(name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: testMeta(name, "default"),
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}}}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func TestImagePullPolicyFromTag(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                      corev1.PullAlways,
		"nginx:latest":               corev1.PullAlways,
		"registry.local:5000/app":    corev1.PullAlways,
		"registry.local:5000/app:v1": corev1.PullIfNotPresent,
		"nginx:1.27":                 corev1.PullIfNotPresent,
		"nginx@sha256:" + strings.Repeat("a", 64): corev1.PullIfNotPresent,
		"Not A Valid Image":                       corev1.PullIfNotPresent,
	} {
		t.Run(image, func(t *testing.T) {
			if got := pullPolicyFor(image); got != want {
				t.Errorf("pullPolicyFor(%q) = %s, want %s", image, got, want)
			}
		})
	}
}

func TestPodDefaults(t *testing.T) {
	pod := testPod("web", func(p *corev1.Pod) {
		p.Spec.DeprecatedServiceAccount = "builder"
		c := &p.Spec.Containers[0]
		c.Image = "nginx"
		c.Ports = []corev1.ContainerPort{{ContainerPort: 80}}
		c.Env = []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}
		c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}}
		p.Spec.Volumes = []corev1.Volume{{Name: "scratch"},
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"}}}}
		p.Status.PodIP = "10.42.0.5"
	})
	Pods().Default(pod)
	s, c := pod.Spec, pod.Spec.Containers[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"restartPolicy", s.RestartPolicy, corev1.RestartPolicyAlways},
		{"dnsPolicy", s.DNSPolicy, corev1.DNSClusterFirst},
		{"terminationGracePeriodSeconds", *s.TerminationGracePeriodSeconds, int64(30)},
		{"schedulerName", s.SchedulerName, "default-scheduler"},
		{"securityContext", *s.SecurityContext, corev1.PodSecurityContext{}},
		{"enableServiceLinks", *s.EnableServiceLinks, true},
		{"serviceAccountName", s.ServiceAccountName, "builder"},
		{"imagePullPolicy", c.ImagePullPolicy, corev1.PullAlways},
		{"terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", c.TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"port protocol", c.Ports[0].Protocol, corev1.ProtocolTCP},
		{"fieldRef apiVersion", c.Env[0].ValueFrom.FieldRef.APIVersion, "v1"},
		{"request from limit", c.Resources.Requests.Cpu().String(), "500m"},
		{"probe", [5]any{c.LivenessProbe.TimeoutSeconds, c.LivenessProbe.PeriodSeconds, c.LivenessProbe.SuccessThreshold,
			c.LivenessProbe.FailureThreshold, c.LivenessProbe.HTTPGet.Path + string(c.LivenessProbe.HTTPGet.Scheme)},
			[5]any{int32(1), int32(10), int32(1), int32(3), "/HTTP"}},
		{"emptyDir", s.Volumes[0].EmptyDir != nil, true},
		{"configMap mode", *s.Volumes[1].ConfigMap.DefaultMode, int32(0o644)},
		{"hostPath type", *s.Volumes[2].HostPath.Type, corev1.HostPathUnset},
		{"podIPs", pod.Status.PodIPs, []corev1.PodIP{{IP: "10.42.0.5"}}},
	}
	for _, ch := range checks {
		if !equality.Semantic.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}

	// A template gets the PodSpec defaults but not the pod-only ones.
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "x",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}}
	defaultPodTemplate(&tmpl)
	if tmpl.Spec.EnableServiceLinks != nil || tmpl.Spec.Containers[0].Resources.Requests != nil || tmpl.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("template defaults: %+v", tmpl.Spec)
	}
}

func TestPodPrepareForCreate(t *testing.T) {
	r := Pods()
	pod := testPod("p", func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	})
	r.Default(pod)
	r.PrepareForCreate(pod)
	if pod.Status.Phase != corev1.PodPending || pod.Status.QOSClass != corev1.PodQOSGuaranteed ||
		len(pod.Status.Conditions) != 1 || pod.Status.Conditions[0].Reason != corev1.PodReasonSchedulingGated {
		t.Fatalf("prepared status: %+v", pod.Status)
	}
	_, _, status, _ := podSummary(pod)
	if status != "SchedulingGated" {
		t.Errorf("status %q", status)
	}
}

func TestPodValidation(t *testing.T) {
	withContainer := func(mutate func(*corev1.Container)) func(*corev1.Pod) {
		return func(p *corev1.Pod) { mutate(&p.Spec.Containers[0]) }
	}
	runValidation(t, Pods(), []validationCase{
		{name: "valid", obj: testPod("web")},
		{name: "no containers", obj: testPod("web", func(p *corev1.Pod) { p.Spec.Containers = nil }),
			want: []string{"FieldValueRequired spec.containers"}},
		{name: "bad container name and no image", obj: testPod("web", withContainer(func(c *corev1.Container) { c.Name, c.Image = "App_1", "" })),
			want: []string{"FieldValueInvalid spec.containers[0].name", "FieldValueRequired spec.containers[0].image"}},
		{name: "duplicate container names", obj: testPod("web", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0])
			p.Spec.InitContainers = []corev1.Container{p.Spec.Containers[0]}
		}), want: []string{"FieldValueDuplicate spec.containers[1].name", "FieldValueDuplicate spec.initContainers[0].name"}},
		{name: "bad ports", obj: testPod("web", withContainer(func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 70000, Protocol: "ICMP"}, {Name: "http"}, {Name: "http", ContainerPort: 8080}}
		})), want: []string{"FieldValueInvalid spec.containers[0].ports[0].containerPort", "FieldValueNotSupported spec.containers[0].ports[0].protocol",
			"FieldValueRequired spec.containers[0].ports[1].containerPort", "FieldValueDuplicate spec.containers[0].ports[2].name"}},
		{name: "mount of a missing volume", obj: testPod("web", withContainer(func(c *corev1.Container) {
			c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		})), want: []string{"FieldValueNotFound spec.containers[0].volumeMounts[0].name"}},
		{name: "volume with two sources", obj: testPod("web", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{},
				Secret: &corev1.SecretVolumeSource{}}}}
		}), want: []string{"FieldValueForbidden spec.volumes[0].secret"}},
		{name: "secret volume without name", obj: testPod("web", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}}}
		}), want: []string{"FieldValueRequired spec.volumes[0].secret.secretName"}},
		{name: "request above limit", obj: testPod("web", withContainer(func(c *corev1.Container) {
			c.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}
		})), want: []string{"FieldValueInvalid spec.containers[0].resources.requests"}},
		{name: "bad restart and dns policies", obj: testPod("web", func(p *corev1.Pod) { p.Spec.RestartPolicy, p.Spec.DNSPolicy = "Sometimes", "Google" }),
			want: []string{"FieldValueNotSupported spec.restartPolicy", "FieldValueNotSupported spec.dnsPolicy"}},
		{name: "env var without name and two sources", obj: testPod("web", withContainer(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{{Value: "x"}, {Name: "A", ValueFrom: &corev1.EnvVarSource{
				FieldRef:        &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Key: "k"}}}}
		})), want: []string{"FieldValueRequired spec.containers[0].env[0].name", "FieldValueInvalid spec.containers[0].env[1].valueFrom"}},
		{name: "probe without handler", obj: testPod("web", withContainer(func(c *corev1.Container) { c.ReadinessProbe = &corev1.Probe{} })),
			want: []string{"FieldValueRequired spec.containers[0].readinessProbe"}},
		{name: "liveness probe of a plain init container", obj: testPod("web", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", LivenessProbe: &corev1.Probe{}}}
		}), want: []string{"FieldValueForbidden spec.initContainers[0].livenessProbe"}},
		{name: "bad toleration", obj: testPod("web", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpEqual, Value: "x"}}
		}), want: []string{"FieldValueInvalid spec.tolerations[0].operator"}},
		{name: "ephemeral containers on create", obj: testPod("web", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
		}), want: []string{"FieldValueForbidden spec.ephemeralContainers"}},
		{name: "image with spaces", obj: testPod("web", withContainer(func(c *corev1.Container) { c.Image = " nginx" })),
			want: []string{"FieldValueInvalid spec.containers[0].image"}},
		{name: "bad pod name", obj: testPod("Web_1"), want: []string{"FieldValueInvalid metadata.name"}},
	})
}

func TestPodUpdateValidation(t *testing.T) {
	old := testPod("web")
	Pods().Default(old)
	changed := func(mutate func(*corev1.Pod)) *corev1.Pod {
		p := old.DeepCopy()
		mutate(p)
		return p
	}
	runValidation(t, Pods(), []validationCase{
		{name: "image", old: old, obj: changed(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" })},
		{name: "labels", old: old, obj: changed(func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} })},
		{name: "added toleration", old: old, obj: changed(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
		})},
		{name: "env changed", old: old, obj: changed(func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}} }),
			want: []string{"FieldValueForbidden spec"}},
		{name: "container added", old: old, obj: changed(func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "x"})
		}), want: []string{"FieldValueForbidden spec.containers"}},
		{name: "deadline raised", old: changed(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](10) }),
			obj:  changed(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](20) }),
			want: []string{"FieldValueInvalid spec.activeDeadlineSeconds"}},
	})

	errs := validatePodUpdate(changed(func(p *corev1.Pod) { p.Spec.NodeName = "n1" }), old)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Detail, "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n") ||
		!strings.Contains(errs[0].Detail, `"nodeName": "n1"`) {
		t.Fatalf("errors: %v", errs)
	}
}

func TestPodPrepareForUpdate(t *testing.T) {
	r := Pods()
	old := testPod("web", func(p *corev1.Pod) {
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBestEffort}
	})
	main := testPod("web", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed })
	r.PrepareForUpdate(main, old, "")
	if main.Status.Phase != corev1.PodRunning {
		t.Errorf("a write to the pod changed its status: %+v", main.Status)
	}
	status := testPod("web", func(p *corev1.Pod) {
		p.Spec.NodeName = "elsewhere"
		p.Status.Phase = corev1.PodSucceeded
	})
	r.PrepareForUpdate(status, old, "status")
	if status.Spec.NodeName != "" || status.Status.Phase != corev1.PodSucceeded || status.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status write: %+v %+v", status.Spec, status.Status)
	}
	if !r.SpecChanged(testPod("web", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "x" }), old) || r.SpecChanged(old.DeepCopy(), old) {
		t.Error("SpecChanged")
	}
}

func TestPodFields(t *testing.T) {
	pod := testPod("web", func(p *corev1.Pod) {
		p.Spec.NodeName = "n1"
		p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.9"}}
	})
	Pods().Default(pod)
	f := Pods().Fields(pod)
	if f["spec.nodeName"] != "n1" || f["status.podIP"] != "10.42.0.9" || f["spec.restartPolicy"] != "Always" ||
		f["spec.hostNetwork"] != "false" || f["spec.schedulerName"] != "default-scheduler" || len(f) != 8 {
		t.Errorf("fields: %v", f)
	}
}

func TestPodTable(t *testing.T) {
	ago := metav1.Now()
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	cases := []struct {
		name                   string
		pod                    *corev1.Pod
		ready, status, restart string
	}{
		{"pending", testPod("p", func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }), "0/1", "Pending", "0"},
		{"running", testPod("p", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true, State: running}}
		}), "1/1", "Running", "0"},
		{"crash looping", testPod("p", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: 4,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago}}}}
		}), "0/1", "CrashLoopBackOff", "4 (0s ago)"},
		{"init waiting", testPod("p", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "x"}}
			p.Status.Phase = corev1.PodPending
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: running}}
		}), "0/1", "Init:0/1", "0"},
		{"init failed", testPod("p", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "x"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2}}}}
		}), "0/1", "Init:ExitCode:2", "0"},
		{"initializing", testPod("p", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "x"}}
			p.Status.Phase = corev1.PodPending
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app",
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}}
		}), "0/1", "PodInitializing", "0"},
		{"sidecar counted", testPod("p", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "proxy", Image: "x", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}}
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "proxy", Ready: true, Started: ptr.To(true), State: running}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true, State: running}}
		}), "2/2", "Running", "0"},
		{"completed", testPod("p", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodSucceeded
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}}
		}), "0/1", "Completed", "0"},
		{"killed", testPod("p", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Signal: 9}}}}
		}), "0/1", "Signal:9", "0"},
		{"terminating", testPod("p", func(p *corev1.Pod) {
			p.DeletionTimestamp = &ago
			p.Status.Phase = corev1.PodRunning
		}), "0/1", "Terminating", "0"},
		{"terminated pod being deleted keeps its status", testPod("p", func(p *corev1.Pod) {
			p.DeletionTimestamp = &ago
			p.Status.Phase = corev1.PodSucceeded
		}), "0/1", "Succeeded", "0"},
		{"node lost", testPod("p", func(p *corev1.Pod) {
			p.DeletionTimestamp = &ago
			p.Status.Reason = "NodeLost"
		}), "0/1", "Unknown", "0"},
		{"evicted", testPod("p", func(p *corev1.Pod) { p.Status.Phase, p.Status.Reason = corev1.PodFailed, "Evicted" }), "0/1", "Evicted", "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cells := podCells(tc.pod)
			if len(cells) != len(podColumns) || cells[1] != tc.ready || cells[2] != tc.status || cells[3] != tc.restart {
				t.Errorf("cells %v, want ready %s status %s restarts %s", cells, tc.ready, tc.status, tc.restart)
			}
		})
	}
	wide := podCells(testPod("p", func(p *corev1.Pod) {
		p.Spec.NodeName = "n1"
		p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.3"}}
		p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/ready"}}
	}))
	if wide[5] != "10.42.0.3" || wide[6] != "n1" || wide[7] != "<none>" || wide[8] != "0/1" {
		t.Errorf("wide cells: %v", wide)
	}
}
