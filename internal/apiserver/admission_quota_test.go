package apiserver

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"mini.dev/mini/internal/registry"
)

// quotaFixture is a server with quotas whose status the test sets, as the
// resourcequota controller would.
type quotaFixture struct {
	t   *testing.T
	ctx context.Context
	s   *Server
}

func (f quotaFixture) res(resource string) *registry.Resource {
	f.t.Helper()
	res, ok := f.s.cfg.Registry.Lookup(corev1.SchemeGroupVersion.WithResource(resource))
	if !ok {
		f.t.Fatalf("no %s", resource)
	}
	return res
}

// quota creates a quota; counted gives it the status the controller
// would write for a namespace holding used.
func (f quotaFixture) quota(name string, hard, used corev1.ResourceList, counted bool) {
	f.t.Helper()
	res := f.res("resourcequotas")
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	if _, err := f.s.createObject(f.ctx, res, "default", q, writeOptions{}); err != nil {
		f.t.Fatal(err)
	}
	if !counted {
		return
	}
	info := requestInfo{Verb: "update", GVR: res.GVR, Namespace: "default", Name: name, Subresource: "status"}
	_, err := f.s.updateObject(f.ctx, res, info, writeOptions{}, func(cur runtime.Object, _ int64) (runtime.Object, error) {
		q := cur.(*corev1.ResourceQuota)
		q.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: used}
		return q, nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f quotaFixture) used(name string) corev1.ResourceList {
	f.t.Helper()
	obj, _, err := f.s.getObject(f.ctx, f.res("resourcequotas"), "default", name)
	if err != nil {
		f.t.Fatal(err)
	}
	return obj.(*corev1.ResourceQuota).Status.Used
}

func quotaPod(name string, requests corev1.ResourceList) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app", Image: "nginx", Resources: corev1.ResourceRequirements{Requests: requests}}}}}
}

func checkUsed(t *testing.T, got, want corev1.ResourceList) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("used %v, want %v", got, want)
	}
	for k, v := range want {
		if q, ok := got[k]; !ok || q.Cmp(v) != 0 {
			t.Fatalf("used %v, want %v", got, want)
		}
	}
}

func TestQuotaAdmission(t *testing.T) {
	s, _ := newServiceTestServer(t, Config{})
	f := quotaFixture{t: t, ctx: context.Background(), s: s}
	f.quota("compute", resources("pods", "2", "requests.cpu", "1"), resources("pods", "1", "requests.cpu", "500m"), true)
	f.quota("objects", resources("count/configmaps", "1", "configmaps", "5"), resources("count/configmaps", "0", "configmaps", "0"), true)
	pods, configMaps := f.res("pods"), f.res("configmaps")
	cm := func(name string) runtime.Object {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	}

	for _, step := range []struct {
		name string
		res  *registry.Resource
		obj  runtime.Object
		dry  bool
		err  string // "" admits
		// used is what the quota then counts.
		quota string
		used  corev1.ResourceList
	}{
		{name: "over the cpu limit", res: pods, obj: quotaPod("big", resources("cpu", "600m")),
			err:   `pods "big" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=500m, limited: requests.cpu=1`,
			quota: "compute", used: resources("pods", "1", "requests.cpu", "500m")},
		{name: "a dry run charges nothing", res: pods, obj: quotaPod("fits", resources("cpu", "500m")), dry: true,
			quota: "compute", used: resources("pods", "1", "requests.cpu", "500m")},
		{name: "fits and is charged", res: pods, obj: quotaPod("fits", resources("cpu", "500m")),
			quota: "compute", used: resources("pods", "2", "requests.cpu", "1")},
		{name: "both exhausted", res: pods, obj: quotaPod("more", resources("cpu", "100m")),
			err:   `pods "more" is forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=100m, used: pods=2,requests.cpu=1, limited: pods=2,requests.cpu=1`,
			quota: "compute", used: resources("pods", "2", "requests.cpu", "1")},
		{name: "must state requests", res: pods, obj: quotaPod("bare", nil),
			err: `pods "bare" is forbidden: failed quota: compute: must specify requests.cpu for: app`},
		{name: "object count", res: configMaps, obj: cm("one"),
			quota: "objects", used: resources("count/configmaps", "1", "configmaps", "1")},
		{name: "object count exceeded", res: configMaps, obj: cm("two"),
			err:   `configmaps "two" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1`,
			quota: "objects", used: resources("count/configmaps", "1", "configmaps", "1")},
	} {
		t.Run(step.name, func(t *testing.T) {
			f.t = t
			err := s.admitQuota(f.ctx, step.res, step.obj, step.dry)
			switch {
			case step.err == "" && err != nil:
				t.Fatal(err)
			case step.err != "" && (err == nil || err.Error() != step.err):
				t.Fatalf("got %v\nwant %s", err, step.err)
			}
			if step.quota != "" {
				checkUsed(t, f.used(step.quota), step.used)
			}
		})
	}

	// A quota the controller has not counted refuses what it tracks.
	f.t = t
	f.quota("fresh", resources("secrets", "3"), nil, false)
	f.quota("counted", resources("secrets", "3"), nil, true)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"}}
	err := s.admitQuota(f.ctx, f.res("secrets"), secret, false)
	if want := `secrets "s" is forbidden: status unknown for quota: counted, resources: secrets`; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}
