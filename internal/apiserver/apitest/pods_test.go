package apitest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/store"
)

func (ts *testServer) getPod(namespace, name string) *corev1.Pod {
	ts.t.Helper()
	var pod corev1.Pod
	if err := json.Unmarshal([]byte(ts.kubectl("get", "pod", name, "-n", namespace, "-o", "json")), &pod); err != nil {
		ts.t.Fatal(err)
	}
	return &pod
}

// checkAdmitted checks what admission gives a pod with no service account,
// priority or tolerations of its own.
func checkAdmitted(t *testing.T, pod *corev1.Pod, priority int32) {
	t.Helper()
	spec := pod.Spec
	if spec.ServiceAccountName != "default" || spec.DeprecatedServiceAccount != "default" {
		t.Errorf("service account %q/%q", spec.ServiceAccountName, spec.DeprecatedServiceAccount)
	}
	var vol *corev1.Volume
	for i := range spec.Volumes {
		if strings.HasPrefix(spec.Volumes[i].Name, "kube-api-access-") {
			vol = &spec.Volumes[i]
		}
	}
	if vol == nil || len(vol.Name) != len("kube-api-access-")+5 || vol.Projected == nil || len(vol.Projected.Sources) != 3 ||
		*vol.Projected.DefaultMode != 0o644 {
		t.Fatalf("token volume %+v", spec.Volumes)
	}
	src := vol.Projected.Sources
	if tok := src[0].ServiceAccountToken; tok == nil || tok.Path != "token" || *tok.ExpirationSeconds != 3607 {
		t.Errorf("token source %+v", src[0])
	}
	if cm := src[1].ConfigMap; cm == nil || cm.Name != "kube-root-ca.crt" || len(cm.Items) != 1 || cm.Items[0].Key != "ca.crt" || cm.Items[0].Path != "ca.crt" {
		t.Errorf("CA source %+v", src[1])
	}
	if d := src[2].DownwardAPI; d == nil || len(d.Items) != 1 || d.Items[0].Path != "namespace" || d.Items[0].FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("namespace source %+v", src[2])
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		found := false
		for _, m := range c.VolumeMounts {
			found = found || (m.Name == vol.Name && m.MountPath == "/var/run/secrets/kubernetes.io/serviceaccount" && m.ReadOnly)
		}
		if !found {
			t.Errorf("container %s mounts %+v", c.Name, c.VolumeMounts)
		}
	}
	want := map[string]bool{"node.kubernetes.io/not-ready": true, "node.kubernetes.io/unreachable": true}
	for _, tol := range spec.Tolerations {
		if want[tol.Key] && tol.Operator == corev1.TolerationOpExists && tol.Effect == corev1.TaintEffectNoExecute && *tol.TolerationSeconds == 300 {
			delete(want, tol.Key)
		}
	}
	if len(want) > 0 {
		t.Errorf("tolerations %+v", spec.Tolerations)
	}
	if spec.Priority == nil || *spec.Priority != priority || spec.PreemptionPolicy == nil || *spec.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("priority %v policy %v, want %d", spec.Priority, spec.PreemptionPolicy, priority)
	}
}

func TestPodAdmission(t *testing.T) {
	ts := startServer(t, store.Config{})

	// Every namespace has its default service account and CA config map.
	mustContain(t, ts.kubectl("create", "namespace", "team"), `namespace/team created`)
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease", "team"} {
		mustContain(t, ts.kubectl("get", "sa", "-n", ns), `(?m)^default\s+0\s+\d+s$`)
		if got := ts.kubectl("get", "cm", "kube-root-ca.crt", "-n", ns, "-o", "jsonpath={.data.ca\\.crt}"); got != string(ts.ca.CertPEM) {
			t.Errorf("%s: kube-root-ca.crt holds %q", ns, got)
		}
	}
	mustContain(t, ts.kubectl("get", "cm", "kube-root-ca.crt", "-o", "jsonpath={.metadata.annotations}"), `Contains a CA bundle`)

	mustContain(t, ts.kubectl("get", "priorityclasses"), `(?m)^NAME\s+VALUE\s+GLOBAL-DEFAULT\s+AGE\s+PREEMPTIONPOLICY$`,
		`(?m)^system-cluster-critical\s+2000000000\s+false\s+\d+s\s+PreemptLowerPriority$`,
		`(?m)^system-node-critical\s+2000001000\s+false\s+\d+s\s+PreemptLowerPriority$`)

	mustContain(t, ts.kubectl("run", "web", "--image=nginx"), `^pod/web created\n$`)
	checkAdmitted(t, ts.getPod("default", "web"), 0)

	manifest := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"critical","namespace":"team"},"spec":{
		"priorityClassName":"system-cluster-critical",
		"initContainers":[{"name":"init","image":"busybox"}],"containers":[{"name":"app","image":"nginx"}]}}`
	if out, errOut, err := ts.createManifest(manifest); err != nil {
		t.Fatalf("create: %v %s %s", err, out, errOut)
	}
	pod := ts.getPod("team", "critical")
	checkAdmitted(t, pod, 2000000000)

	// A pod that opts out gets no token volume; one whose account is
	// missing or whose class is unknown is refused, as upstream words it.
	mustContain(t, ts.kubectl("run", "quiet", "--image=nginx", `--overrides={"spec":{"automountServiceAccountToken":false}}`), `pod/quiet created`)
	if vols := ts.getPod("default", "quiet").Spec.Volumes; len(vols) != 0 {
		t.Errorf("opted-out pod has volumes %+v", vols)
	}
	mustContain(t, ts.kubectlFails("run", "lost", "--image=nginx", `--overrides={"spec":{"serviceAccountName":"ghost"}}`),
		`Error from server \(Forbidden\): pods "lost" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found`)
	mustContain(t, ts.kubectlFails("run", "vip", "--image=nginx", `--overrides={"spec":{"priorityClassName":"gold"}}`),
		`pods "vip" is forbidden: no PriorityClass with name gold was found`)

	// A global default class applies to pods without one; only one may exist.
	mustContain(t, ts.kubectl("create", "priorityclass", "normal", "--value=100", "--global-default"), `created`)
	mustContain(t, ts.kubectlFails("create", "priorityclass", "other", "--value=200", "--global-default"),
		`priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass normal is already marked as default. Only one default can exist`)
	mustContain(t, ts.kubectl("run", "plain", "--image=nginx"), `pod/plain created`)
	if p := ts.getPod("default", "plain"); p.Spec.PriorityClassName != "normal" || *p.Spec.Priority != 100 {
		t.Errorf("class %q priority %v", p.Spec.PriorityClassName, p.Spec.Priority)
	}

	// An update without the default tolerations gets them back; the
	// priority stays.
	ctx := context.Background()
	pods := ts.client().CoreV1().Pods("default")
	cur, err := pods.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Tolerations, cur.Spec.Priority = nil, nil
	cur.Spec.Containers[0].Image = "nginx:1.27"
	updated, err := pods.Update(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkAdmitted(t, updated, 0)
}

func TestPodBindingAndDeletion(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx := context.Background()
	pods := ts.client().CoreV1().Pods("default")
	newPod := func(name string) *corev1.Pod {
		t.Helper()
		p, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	web := newPod("web")

	// A binding with another UID does not apply to this pod.
	err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "other"},
		Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "Precondition failed: UID in precondition: other") {
		t.Fatalf("binding with a stale UID: %v", err)
	}
	if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: web.UID, Annotations: map[string]string{"scheduler": "mini"}},
		Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bound, err := pods.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if bound.Spec.NodeName != "n1" || bound.Annotations["scheduler"] != "mini" || len(bound.Status.Conditions) != 1 ||
		bound.Status.Conditions[0].Type != corev1.PodScheduled || bound.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("bound pod: %+v %+v", bound.Spec, bound.Status)
	}
	mustContain(t, ts.kubectl("get", "pods", "--field-selector", "spec.nodeName=n1", "-o", "name"), `^pod/web\n$`)
	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Target: corev1.ObjectReference{Name: "n2"}}, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || err.Error() != `Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to node "n1"` {
		t.Fatalf("second binding: %v", err)
	}
	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "ghost"}, Target: corev1.ObjectReference{Name: "n1"}}, metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("binding a missing pod: %v", err)
	}
	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "target.name: Required value") {
		t.Fatalf("binding without a target: %v", err)
	}

	// A bound pod goes gracefully: marked, until its node's agent deletes
	// it with no grace period left; a shorter period may replace a longer.
	if err := pods.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	marked, err := pods.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("a bound pod is gone at once: %v", err)
	}
	if marked.DeletionTimestamp == nil || marked.DeletionGracePeriodSeconds == nil || *marked.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("deletion marks: %v %v", marked.DeletionTimestamp, marked.DeletionGracePeriodSeconds)
	}
	mustContain(t, ts.kubectl("get", "pods", "web"), `(?m)^web\s+0/1\s+Terminating\s+0\s+\d+s$`)
	if err := pods.Delete(ctx, "web", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](10)}); err != nil {
		t.Fatal(err)
	}
	if p, _ := pods.Get(ctx, "web", metav1.GetOptions{}); *p.DeletionGracePeriodSeconds != 10 {
		t.Errorf("shortened grace period: %d", *p.DeletionGracePeriodSeconds)
	}
	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Target: corev1.ObjectReference{Name: "n1"}}, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("binding a pod being deleted: %v", err)
	}
	if err := pods.Delete(ctx, "web", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after the agent's delete: %v", err)
	}

	// An unscheduled pod has nobody to stop it: it goes at once.
	newPod("idle")
	mustContain(t, ts.kubectl("delete", "pod", "idle"), `^pod "idle" deleted`)
	if _, err := pods.Get(ctx, "idle", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("unscheduled pod after delete: %v", err)
	}
}

func TestPodEviction(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx := context.Background()
	pods := ts.client().CoreV1().Pods("default")
	create := func(name, node string, phase corev1.PodPhase) {
		t.Helper()
		p, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "x"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if node != "" {
			if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Name: node}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if p, err = pods.Get(ctx, name, metav1.GetOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if phase != corev1.PodPending {
			p.Status.Phase = phase
			if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	evict := func(name string, opts *metav1.DeleteOptions) error {
		return pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name}, DeleteOptions: opts})
	}

	// A pending pod is deleted outright.
	create("pending", "", corev1.PodPending)
	if err := evict("pending", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "pending", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("evicted pending pod: %v", err)
	}

	// A running pod is marked as a disruption target and deleted gracefully.
	create("running", "n1", corev1.PodRunning)
	if err := evict("running", nil); err != nil {
		t.Fatal(err)
	}
	p, err := pods.Get(ctx, "running", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var disrupted bool
	for _, c := range p.Status.Conditions {
		disrupted = disrupted || (c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "EvictionByEvictionAPI")
	}
	if p.DeletionTimestamp == nil || !disrupted {
		t.Fatalf("evicted running pod: %v %+v", p.DeletionTimestamp, p.Status.Conditions)
	}

	// The eviction's options apply: a stale resourceVersion is a conflict,
	// a zero grace period deletes at once, a dry run deletes nothing.
	create("busy", "n1", corev1.PodRunning)
	err = evict("busy", &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: ptr.To("1")}})
	if !apierrors.IsConflict(err) {
		t.Fatalf("eviction with a stale resourceVersion: %v", err)
	}
	if err := evict("busy", &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}, GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if p, err := pods.Get(ctx, "busy", metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Fatalf("after a dry-run eviction: %v", err)
	}
	if err := evict("busy", &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "busy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after an eviction without grace: %v", err)
	}

	// A finished pod is deleted; policy/v1beta1 is accepted too.
	create("done", "n1", corev1.PodSucceeded)
	if err := pods.EvictV1beta1(ctx, &policyv1beta1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "done"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "done", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("evicted finished pod: %v", err)
	}

	if err := evict("ghost", nil); !apierrors.IsNotFound(err) || err.Error() != `pods "ghost" not found` {
		t.Fatalf("evicting a missing pod: %v", err)
	}
	// The body's name must be the URL's.
	res := ts.client().CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("running").SubResource("eviction").
		Body([]byte(`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"other"}}`)).SetHeader("Content-Type", "application/json").Do(ctx)
	if err := res.Error(); !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "name in URL does not match name in Eviction object") {
		t.Fatalf("mismatched eviction: %v", err)
	}
}

func TestServiceAccountTokens(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx := context.Background()

	token := strings.TrimSpace(ts.kubectl("create", "token", "default"))
	if strings.Count(token, ".") != 2 {
		t.Fatalf("token %q", token)
	}
	// The token authenticates as the service account.
	whoami := func(token string) (*authenticationv1.SelfSubjectReview, error) {
		c, err := kubernetes.NewForConfig(&rest.Config{Host: "https://" + ts.addr, BearerToken: token,
			TLSClientConfig: rest.TLSClientConfig{CAData: ts.ca.CertPEM}})
		if err != nil {
			t.Fatal(err)
		}
		return c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	}
	review, err := whoami(token)
	if err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo; u.Username != "system:serviceaccount:default:default" ||
		!strings.Contains(strings.Join(u.Groups, ","), "system:serviceaccounts:default") {
		t.Errorf("token user %+v", u)
	}

	// The API's answer, with its defaults.
	sas := ts.client().CoreV1().ServiceAccounts("default")
	tr, err := sas.CreateToken(ctx, "default", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *tr.Spec.ExpirationSeconds != 3600 || len(tr.Spec.Audiences) != 1 || tr.Spec.Audiences[0] != "https://kubernetes.default.svc.cluster.local" ||
		tr.Status.Token == "" || tr.Status.ExpirationTimestamp.IsZero() {
		t.Errorf("token request %+v", tr)
	}

	mustContain(t, ts.kubectlFails("create", "token", "default", "--duration=5m"),
		`spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes`)
	mustContain(t, ts.kubectlFails("create", "token", "ghost"), `serviceaccounts "ghost" not found`)

	// A token bound to a pod lives as long as the pod.
	mustContain(t, ts.kubectl("run", "web", "--image=nginx"), `pod/web created`)
	bound := strings.TrimSpace(ts.kubectl("create", "token", "default", "--bound-object-kind=Pod", "--bound-object-name=web"))
	if _, err := whoami(bound); err != nil {
		t.Fatalf("pod-bound token: %v", err)
	}
	mustContain(t, ts.kubectlFails("create", "token", "default", "--bound-object-kind=Pod", "--bound-object-name=nothere"), `pods "nothere" not found`)
	mustContain(t, ts.kubectl("create", "serviceaccount", "builder"), `created`)
	mustContain(t, ts.kubectlFails("create", "token", "builder", "--bound-object-kind=Pod", "--bound-object-name=web"),
		`cannot bind token for serviceaccount "builder" to pod running with different serviceaccount name.`)
	ts.kubectl("delete", "pod", "web")
	if _, err := whoami(bound); !apierrors.IsUnauthorized(err) {
		t.Fatalf("token of a deleted pod: %v", err)
	}
}

func TestComponentStatuses(t *testing.T) {
	ts := startServer(t, store.Config{})
	out, errOut, err := ts.kubectlAs(ts.kubeconfig, "", "get", "cs")
	if err != nil {
		t.Fatalf("get cs: %v %s", err, errOut)
	}
	mustContain(t, errOut, `Warning: v1 ComponentStatus is deprecated in v1.19\+`)
	mustContain(t, out, `(?m)^NAME\s+STATUS\s+MESSAGE\s+ERROR$`,
		`(?m)^controller-manager\s+Unhealthy\s+this server does not run the controllers$`,
		`(?m)^etcd-0\s+Healthy\s+ok\s*$`,
		`(?m)^scheduler\s+Unhealthy\s+this server does not run a scheduler$`)
	var cs corev1.ComponentStatus
	if err := json.Unmarshal([]byte(ts.kubectl("get", "componentstatus", "etcd-0", "-o", "json")), &cs); err != nil {
		t.Fatal(err)
	}
	if len(cs.Conditions) != 1 || cs.Conditions[0].Type != corev1.ComponentHealthy || cs.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("etcd-0: %+v", cs)
	}
	mustContain(t, ts.kubectlFails("get", "cs", "apiserver"), `Component not found: apiserver`)
	mustContain(t, ts.kubectl("get", "cs", "--field-selector", "metadata.name=scheduler", "-o", "name"), `^componentstatus/scheduler\n$`)
}
