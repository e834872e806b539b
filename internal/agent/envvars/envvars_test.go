package envvars

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"mini.dev/mini/internal/runtime"
)

func TestExpand(t *testing.T) {
	vars := MappingFor(map[string]string{"A": "a", "B": "b", "EMPTY": ""})
	for in, want := range map[string]string{
		"":                   "",
		"plain":              "plain",
		"$(A)":               "a",
		"x$(A)y$(B)z":        "xaybz",
		"$(UNKNOWN)":         "$(UNKNOWN)",
		"$$(A)":              "$(A)",
		"$$$(A)":             "$a",
		"$(A":                "$(A",
		"$A":                 "$A",
		"end$":               "end$",
		"$(EMPTY)x":          "x",
		"$()":                "$()",
		"$(A)$(B)$$":         "ab$",
		"http://$(A):$(B)/p": "http://a:b/p",
	} {
		if got := Expand(in, vars); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func testObjects() []k8sruntime.Object {
	return []k8sruntime.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm"},
			Data: map[string]string{"color": "blue", "size": "10", "bad-key": "x", "1st": "y"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sec"},
			Data: map[string][]byte{"password": []byte("hunter2")}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "my-svc"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.20", Ports: []corev1.ServicePort{{Port: 80}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "headless"},
			Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 80}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "elsewhere"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.30", Ports: []corev1.ServicePort{{Port: 80}}}},
	}
}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1",
			Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"note": `a "q"`}},
		Spec: corev1.PodSpec{NodeName: "n1", ServiceAccountName: "sa",
			Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
			}}}},
	}
}

func TestResolve(t *testing.T) {
	node := Node{Name: "n1", HostIP: "192.168.1.5", Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}}
	fr := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	rr := func(r, div string) *corev1.EnvVarSource {
		s := &corev1.ResourceFieldSelector{Resource: r}
		if div != "" {
			s.Divisor = resource.MustParse(div)
		}
		return &corev1.EnvVarSource{ResourceFieldRef: s}
	}
	tests := []struct {
		name    string
		links   *bool
		env     []corev1.EnvVar
		envFrom []corev1.EnvFromSource
		want    map[string]string // subset that must be present
		absent  []string
		wantErr string
	}{
		{name: "values and expansion",
			env:  []corev1.EnvVar{{Name: "A", Value: "x"}, {Name: "B", Value: "$(A)-$(MY_SVC_SERVICE_HOST)-$(NOPE)-$$(A)"}},
			want: map[string]string{"A": "x", "B": "x-10.43.0.20-$(NOPE)-$(A)"}},
		{name: "later env sees earlier only",
			env:  []corev1.EnvVar{{Name: "B", Value: "$(A)"}, {Name: "A", Value: "x"}},
			want: map[string]string{"B": "$(A)", "A": "x"}},
		{name: "service links",
			want: map[string]string{"KUBERNETES_SERVICE_HOST": "10.43.0.1", "KUBERNETES_SERVICE_PORT": "443",
				"KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://10.43.0.1:443",
				"KUBERNETES_PORT_443_TCP_ADDR": "10.43.0.1", "MY_SVC_SERVICE_HOST": "10.43.0.20",
				"MY_SVC_SERVICE_PORT": "80", "MY_SVC_SERVICE_PORT_DNS": "53", "MY_SVC_PORT": "tcp://10.43.0.20:80",
				"MY_SVC_PORT_53_UDP": "udp://10.43.0.20:53", "MY_SVC_PORT_53_UDP_PROTO": "udp", "MY_SVC_PORT_53_UDP_PORT": "53"},
			absent: []string{"HEADLESS_SERVICE_HOST", "ELSEWHERE_SERVICE_HOST"}},
		{name: "links disabled keep the master service", links: ptr(false),
			want: map[string]string{"KUBERNETES_SERVICE_HOST": "10.43.0.1"}, absent: []string{"MY_SVC_SERVICE_HOST"}},
		{name: "env overrides service variables",
			env:  []corev1.EnvVar{{Name: "MY_SVC_SERVICE_HOST", Value: "mine"}},
			want: map[string]string{"MY_SVC_SERVICE_HOST": "mine"}},
		{name: "envFrom with prefix skips invalid names",
			envFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
			env:    []corev1.EnvVar{{Name: "size", Value: "override $(color)"}},
			want:   map[string]string{"CM_color": "blue", "CM_bad-key": "x", "CM_1st": "y", "password": "hunter2", "color": "blue", "size": "override blue"},
			absent: []string{"1st"}},
		{name: "envFrom missing", wantErr: `configmap "nope" not found`,
			envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}}},
		{name: "envFrom missing secret", wantErr: `secret "nope" not found`,
			envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}}},
		{name: "envFrom optional missing",
			envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: ptr(true)}}},
			want:    map[string]string{"KUBERNETES_SERVICE_HOST": "10.43.0.1"}},
		{name: "key refs",
			env: []corev1.EnvVar{
				{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "color"}}},
				{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "password"}}},
				{Name: "OPT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "none", Optional: ptr(true)}}},
				{Name: "OPT2", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k", Optional: ptr(true)}}},
			},
			want: map[string]string{"COLOR": "blue", "PW": "hunter2"}, absent: []string{"OPT", "OPT2"}},
		{name: "missing configmap key", wantErr: "couldn't find key nokey in ConfigMap ns/cm",
			env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "nokey"}}}}},
		{name: "missing secret key", wantErr: "couldn't find key nokey in Secret ns/sec",
			env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "nokey"}}}}},
		{name: "missing configmap by key ref", wantErr: `configmap "gone" not found`,
			env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k"}}}}},
		{name: "missing secret by key ref", wantErr: `secret "gone" not found`,
			env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k"}}}}},
		{name: "field refs",
			env: []corev1.EnvVar{{Name: "NAME", ValueFrom: fr("metadata.name")}, {Name: "NS", ValueFrom: fr("metadata.namespace")},
				{Name: "UID", ValueFrom: fr("metadata.uid")}, {Name: "APP", ValueFrom: fr("metadata.labels['app']")},
				{Name: "NOTE", ValueFrom: fr("metadata.annotations['note']")}, {Name: "LABELS", ValueFrom: fr("metadata.labels")},
				{Name: "NODE", ValueFrom: fr("spec.nodeName")}, {Name: "SA", ValueFrom: fr("spec.serviceAccountName")},
				{Name: "HOST_IP", ValueFrom: fr("status.hostIP")}, {Name: "HOST_IPS", ValueFrom: fr("status.hostIPs")},
				{Name: "POD_IP", ValueFrom: fr("status.podIP")}, {Name: "POD_IPS", ValueFrom: fr("status.podIPs")},
				{Name: "URL", Value: "http://$(POD_IP):80/$(NAME)"}},
			want: map[string]string{"NAME": "p", "NS": "ns", "UID": "uid-1", "APP": "web", "NOTE": `a "q"`,
				"LABELS": "app=\"web\"\ntier=\"front\"", "NODE": "n1", "SA": "sa", "HOST_IP": "192.168.1.5",
				"HOST_IPS": "192.168.1.5", "POD_IP": "10.42.0.7", "POD_IPS": "10.42.0.7,fd00::7", "URL": "http://10.42.0.7:80/p"}},
		{name: "bad field ref", wantErr: "unsupported fieldPath: spec.bogus",
			env: []corev1.EnvVar{{Name: "X", ValueFrom: fr("spec.bogus")}}},
		{name: "resource refs",
			env: []corev1.EnvVar{{Name: "REQ_CPU_M", ValueFrom: rr("requests.cpu", "1m")}, {Name: "REQ_CPU", ValueFrom: rr("requests.cpu", "")},
				{Name: "LIM_CPU", ValueFrom: rr("limits.cpu", "")}, {Name: "LIM_MEM_MI", ValueFrom: rr("limits.memory", "1Mi")},
				{Name: "REQ_MEM", ValueFrom: rr("requests.memory", "")}},
			want: map[string]string{"REQ_CPU_M": "250", "REQ_CPU": "1", "LIM_CPU": "4", "LIM_MEM_MI": "128", "REQ_MEM": "67108864"}},
		{name: "bad resource", wantErr: "unsupported container resource : limits.gpu",
			env: []corev1.EnvVar{{Name: "X", ValueFrom: rr("limits.gpu", "")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod()
			pod.Spec.EnableServiceLinks = tt.links
			c := &pod.Spec.Containers[0]
			c.Env, c.EnvFrom = tt.env, tt.envFrom
			g := NewCachedGetter(fake.NewClientset(testObjects()...), time.Minute)
			got, err := Resolve(context.Background(), pod, c, []string{"10.42.0.7", "fd00::7"}, node, g)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]string{}
			for _, kv := range got {
				if _, dup := m[kv.Key]; dup {
					t.Errorf("duplicate variable %s", kv.Key)
				}
				m[kv.Key] = kv.Value
			}
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("%s = %q, want %q", k, m[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := m[k]; ok {
					t.Errorf("%s is set, want absent", k)
				}
			}
		})
	}
}

func TestResolveStableOrder(t *testing.T) {
	pod := testPod()
	c := &pod.Spec.Containers[0]
	c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}}
	c.Env = []corev1.EnvVar{{Name: "Z", Value: "1"}, {Name: "A", Value: "2"}}
	g := NewCachedGetter(fake.NewClientset(testObjects()...), time.Minute)
	var first []runtime.KeyValue
	for i := range 20 {
		got, err := Resolve(context.Background(), pod, c, nil, Node{HostIP: "1.2.3.4"}, g)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = got
			if got[0].Key != "bad-key" || got[1].Key != "color" || got[3].Key != "Z" || got[4].Key != "A" {
				t.Fatalf("order = %v", got[:6])
			}
			continue
		}
		if len(got) != len(first) {
			t.Fatal("length changed")
		}
		for j := range got {
			if got[j] != first[j] {
				t.Fatalf("run %d: variable %d = %v, want %v", i, j, got[j], first[j])
			}
		}
	}
}

func TestCachedGetter(t *testing.T) {
	client := fake.NewClientset(testObjects()...)
	gets := map[string]int{}
	client.PrependReactor("get", "*", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		gets[a.GetResource().Resource]++
		return false, nil, nil
	})
	g := NewCachedGetter(client, time.Minute)
	now := time.Unix(1000, 0)
	g.now = func() time.Time { return now }
	ctx := context.Background()
	for range 100 {
		if _, err := g.ConfigMap(ctx, "ns", "cm"); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Secret(ctx, "ns", "missing"); err == nil || err.Error() != `secret "missing" not found` {
			t.Fatalf("missing secret: %v", err)
		}
	}
	if gets["configmaps"] != 1 || gets["secrets"] != 1 {
		t.Fatalf("gets = %v, want one each", gets)
	}
	now = now.Add(2 * time.Minute)
	if _, err := g.ConfigMap(ctx, "ns", "cm"); err != nil {
		t.Fatal(err)
	}
	if gets["configmaps"] != 2 {
		t.Fatalf("after ttl: gets = %v, want a second configmap get", gets)
	}
	if !strings.Contains(FormatMap(map[string]string{"b": "2", "a": "1"}), "a=\"1\"\nb=\"2\"") {
		t.Fatal("FormatMap order")
	}
}
