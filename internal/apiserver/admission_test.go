package apiserver

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func testPod(mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "web", Image: "nginx"}, {Name: "side", Image: "envoy"}},
		},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func TestServiceAccountAdmission(t *testing.T) {
	accounts := map[string]*corev1.ServiceAccount{
		"default": {ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"}},
		"quiet":   {ObjectMeta: metav1.ObjectMeta{Name: "quiet", Namespace: "default"}, AutomountServiceAccountToken: ptr.To(false)},
		"puller": {ObjectMeta: metav1.ObjectMeta{Name: "puller", Namespace: "default"},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}},
		"strict": {ObjectMeta: metav1.ObjectMeta{Name: "strict", Namespace: "default",
			Annotations: map[string]string{enforceMountableSecretsAnnotation: "true"}},
			Secrets: []corev1.ObjectReference{{Name: "allowed"}}},
	}
	get := func(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
		if sa, ok := accounts[name]; ok && ns == "default" {
			return sa, nil
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccount"}, name)
	}
	admission := serviceAccountAdmission{get: get, volumeName: func() string { return "kube-api-access-abcde" }}
	wantMount := corev1.VolumeMount{Name: "kube-api-access-abcde", ReadOnly: true, MountPath: serviceAccountMountPath}

	for _, tc := range []struct {
		name      string
		pod       *corev1.Pod
		err       string // the denial's words; "" admits
		account   string
		mounted   bool
		mountName string
		pull      []string
	}{
		{name: "defaults to the default account and mounts its token", pod: testPod(), account: "default", mounted: true},
		{name: "a named account", pod: testPod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "puller" }),
			account: "puller", mounted: true, pull: []string{"regcred"}},
		{name: "the deprecated field names the account", pod: testPod(func(p *corev1.Pod) { p.Spec.DeprecatedServiceAccount = "puller" }),
			account: "puller", mounted: true, pull: []string{"regcred"}},
		{name: "the pod's own pull secrets win", pod: testPod(func(p *corev1.Pod) {
			p.Spec.ServiceAccountName = "puller"
			p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "mine"}}
		}), account: "puller", mounted: true, pull: []string{"mine"}},
		{name: "a missing account is refused", pod: testPod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "ghost" }),
			err: `error looking up service account default/ghost: serviceaccount "ghost" not found`},
		{name: "the account opts out", pod: testPod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "quiet" }), account: "quiet"},
		{name: "the pod opts out", pod: testPod(func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr.To(false) }), account: "default"},
		{name: "the pod opts in over its account", pod: testPod(func(p *corev1.Pod) {
			p.Spec.ServiceAccountName = "quiet"
			p.Spec.AutomountServiceAccountToken = ptr.To(true)
		}), account: "quiet", mounted: true},
		{name: "an existing kube-api-access volume is reused", pod: testPod(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access-zzzzz", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}), account: "default", mounted: true, mountName: "kube-api-access-zzzzz"},
		{name: "enforced account refuses other secrets", pod: testPod(func(p *corev1.Pod) {
			p.Spec.ServiceAccountName = "strict"
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "other"}}}}
		}), err: `volume with secret.secretName="other" is not allowed because service account strict does not reference that secret`},
		{name: "enforced account allows its secrets", pod: testPod(func(p *corev1.Pod) {
			p.Spec.ServiceAccountName = "strict"
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "allowed"}, Key: "k"}}}}
		}), account: "strict", mounted: true},
		{name: "a mirror pod may not name an account", pod: testPod(func(p *corev1.Pod) {
			p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
			p.Spec.ServiceAccountName = "default"
		}), err: "a mirror pod may not reference service accounts"},
		{name: "a mirror pod may not reference secrets", pod: testPod(func(p *corev1.Pod) {
			p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
			p.Spec.Containers[1].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}}
		}), err: "a mirror pod may not reference secrets"},
		{name: "a mirror pod is otherwise left alone", pod: testPod(func(p *corev1.Pod) {
			p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := tc.pod
			err := admission.admit(context.Background(), pod)
			if tc.err != "" {
				var d denial
				if !errors.As(err, &d) || err.Error() != tc.err {
					t.Fatalf("got %v, want the denial %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pod.Spec.ServiceAccountName != tc.account || pod.Spec.DeprecatedServiceAccount != tc.account {
				t.Errorf("service account %q/%q, want %q", pod.Spec.ServiceAccountName, pod.Spec.DeprecatedServiceAccount, tc.account)
			}
			var pulls []string
			for _, s := range pod.Spec.ImagePullSecrets {
				pulls = append(pulls, s.Name)
			}
			if strings.Join(pulls, ",") != strings.Join(tc.pull, ",") {
				t.Errorf("pull secrets %v, want %v", pulls, tc.pull)
			}
			mount := wantMount
			if tc.mountName != "" {
				mount.Name = tc.mountName
			}
			for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
				has := len(c.VolumeMounts) == 1 && equality.Semantic.DeepEqual(c.VolumeMounts[0], mount)
				if has != tc.mounted {
					t.Errorf("container %s mounts %v, want the token mounted: %v", c.Name, c.VolumeMounts, tc.mounted)
				}
			}
			var projected []corev1.Volume
			for _, v := range pod.Spec.Volumes {
				if v.Projected != nil {
					projected = append(projected, v)
				}
			}
			if want := tc.mounted && tc.mountName == ""; want != (len(projected) == 1) {
				t.Fatalf("volumes %+v, want the token volume: %v", pod.Spec.Volumes, want)
			}
			if len(projected) == 1 {
				want := corev1.Volume{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					DefaultMode: ptr.To[int32](0o644),
					Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
						{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
							Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
						{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
							FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
					}}}}
				if !equality.Semantic.DeepEqual(projected[0], want) {
					t.Errorf("token volume %+v, want %+v", projected[0], want)
				}
			}
		})
	}
}

func TestServiceAccountAdmissionKeepsOwnMounts(t *testing.T) {
	pod := testPod(func(p *corev1.Pod) {
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "own", MountPath: serviceAccountMountPath}}
		p.Spec.InitContainers[0].VolumeMounts = []corev1.VolumeMount{{Name: "own", MountPath: serviceAccountMountPath}}
		p.Spec.Containers[1].VolumeMounts = []corev1.VolumeMount{{Name: "own", MountPath: serviceAccountMountPath}}
	})
	a := serviceAccountAdmission{
		get: func(context.Context, string, string) (*corev1.ServiceAccount, error) {
			return &corev1.ServiceAccount{}, nil
		},
		volumeName: func() string { return "kube-api-access-abcde" },
	}
	if err := a.admit(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.Volumes) != 0 {
		t.Errorf("no container needs the token, yet volumes %v", pod.Spec.Volumes)
	}
}

func TestDefaultTolerations(t *testing.T) {
	notReady := defaultToleration(corev1.TaintNodeNotReady)
	unreachable := defaultToleration(corev1.TaintNodeUnreachable)
	own := corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](10)}
	everything := corev1.Toleration{Operator: corev1.TolerationOpExists}
	noSchedule := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	for _, tc := range []struct {
		name      string
		have, out []corev1.Toleration
	}{
		{"none", nil, []corev1.Toleration{notReady, unreachable}},
		{"own not-ready kept", []corev1.Toleration{own}, []corev1.Toleration{own, unreachable}},
		{"tolerating everything", []corev1.Toleration{everything}, []corev1.Toleration{everything}},
		{"another effect does not count", []corev1.Toleration{noSchedule}, []corev1.Toleration{noSchedule, notReady, unreachable}},
		{"both present", []corev1.Toleration{unreachable, notReady}, []corev1.Toleration{unreachable, notReady}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &corev1.PodSpec{Tolerations: tc.have}
			addDefaultTolerations(spec)
			if !equality.Semantic.DeepEqual(spec.Tolerations, tc.out) {
				t.Errorf("got %+v, want %+v", spec.Tolerations, tc.out)
			}
		})
	}
	if *notReady.TolerationSeconds != 300 || notReady.Effect != corev1.TaintEffectNoExecute || notReady.Key != "node.kubernetes.io/not-ready" ||
		unreachable.Key != "node.kubernetes.io/unreachable" {
		t.Errorf("default tolerations %+v %+v", notReady, unreachable)
	}
}

func TestResolvePodPriority(t *testing.T) {
	never := corev1.PreemptNever
	lower := corev1.PreemptLowerPriority
	high := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000, PreemptionPolicy: &never}
	def := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "def"}, Value: 5, GlobalDefault: true, PreemptionPolicy: &lower}
	otherDef := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Value: 7, GlobalDefault: true}
	for _, tc := range []struct {
		name      string
		classes   []*schedulingv1.PriorityClass
		spec      corev1.PodSpec
		class     string
		priority  int32
		policy    corev1.PreemptionPolicy
		forbidden string
	}{
		{name: "no class, no default", classes: []*schedulingv1.PriorityClass{high}, priority: 0, policy: lower},
		{name: "the global default", classes: []*schedulingv1.PriorityClass{high, otherDef, def}, class: "def", priority: 5, policy: lower},
		{name: "a named class", classes: []*schedulingv1.PriorityClass{high, def}, spec: corev1.PodSpec{PriorityClassName: "high"},
			class: "high", priority: 1000, policy: never},
		{name: "a missing class", classes: []*schedulingv1.PriorityClass{def}, spec: corev1.PodSpec{PriorityClassName: "ghost"},
			forbidden: "no PriorityClass with name ghost was found"},
		{name: "an agreeing priority", classes: []*schedulingv1.PriorityClass{high},
			spec: corev1.PodSpec{PriorityClassName: "high", Priority: ptr.To[int32](1000)}, class: "high", priority: 1000, policy: never},
		{name: "a priority of its own", classes: []*schedulingv1.PriorityClass{high},
			spec:      corev1.PodSpec{PriorityClassName: "high", Priority: ptr.To[int32](3)},
			forbidden: "the integer value of priority (3) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"},
		{name: "a policy of its own", classes: []*schedulingv1.PriorityClass{high},
			spec:      corev1.PodSpec{PriorityClassName: "high", PreemptionPolicy: &lower},
			forbidden: "the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in pod spec; priority admission controller computed Never from the given PriorityClass name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			err := resolvePodPriority(&spec, tc.classes)
			if tc.forbidden != "" {
				got := admissionError(podsGVR.GroupResource(), "web", err)
				if !apierrors.IsForbidden(got) || got.Error() != `pods "web" is forbidden: `+tc.forbidden {
					t.Fatalf("got %v, want 403 %q", got, tc.forbidden)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.PriorityClassName != tc.class || spec.Priority == nil || *spec.Priority != tc.priority ||
				spec.PreemptionPolicy == nil || *spec.PreemptionPolicy != tc.policy {
				t.Errorf("got class %q priority %v policy %v", spec.PriorityClassName, spec.Priority, spec.PreemptionPolicy)
			}
		})
	}
}

func TestKeepPodPriority(t *testing.T) {
	never := corev1.PreemptNever
	old := corev1.PodSpec{Priority: ptr.To[int32](7), PreemptionPolicy: &never}
	spec := corev1.PodSpec{}
	keepPodPriority(&spec, &old)
	if *spec.Priority != 7 || *spec.PreemptionPolicy != never {
		t.Errorf("got %v %v", spec.Priority, spec.PreemptionPolicy)
	}
}

func TestCheckSingleDefault(t *testing.T) {
	def := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "def"}, Value: 5, GlobalDefault: true}
	for _, tc := range []struct {
		name   string
		pc     *schedulingv1.PriorityClass
		create bool
		deny   bool
	}{
		{"not a default", &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, true, false},
		{"a second default", &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}, GlobalDefault: true}, true, true},
		{"another class made default", &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}, GlobalDefault: true}, false, true},
		{"the default updated", &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "def"}, GlobalDefault: true}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSingleDefault(tc.pc, tc.create, []*schedulingv1.PriorityClass{def})
			if (err != nil) != tc.deny {
				t.Fatalf("got %v, want denied: %v", err, tc.deny)
			}
			if err != nil && err.Error() != "PriorityClass def is already marked as default. Only one default can exist" {
				t.Errorf("words: %v", err)
			}
		})
	}
}
