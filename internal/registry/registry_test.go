package registry

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
)

// TestBuiltinIsConsistent checks every served resource against the
// scheme: its kind and list kind exist in its group version, New and
// NewList make them, and names are unique.
func TestBuiltinIsConsistent(t *testing.T) {
	reg, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reg.Resources() {
		gvk := r.GroupVersionKind()
		kinds, _, err := scheme.Scheme.ObjectKinds(r.New())
		if err != nil || !containsGVK(kinds, gvk.Kind) {
			t.Errorf("%s: New makes %v (%v), want kind %s", r.GVR, kinds, err, gvk.Kind)
		}
		if r.Virtual != (r.NewList == nil) {
			t.Errorf("%s: virtual resources, and only they, have no list", r.GVR)
		} else if !r.Virtual {
			lists, _, err := scheme.Scheme.ObjectKinds(r.NewList())
			if err != nil || !containsGVK(lists, gvk.Kind+"List") {
				t.Errorf("%s: NewList makes %v (%v)", r.GVR, lists, err)
			}
		}
		if r.SingularName == "" || strings.ToLower(r.Kind) != r.SingularName {
			t.Errorf("%s: singular name %q for kind %s", r.GVR, r.SingularName, r.Kind)
		}
		if r.Cells != nil && len(r.Cells(r.New())) != len(r.Columns) {
			t.Errorf("%s: %d cells for %d columns", r.GVR, len(r.Cells(r.New())), len(r.Columns))
		}
	}
}

func containsGVK(kinds []schema.GroupVersionKind, kind string) bool {
	for _, k := range kinds {
		if k.Kind == kind {
			return true
		}
	}
	return false
}

// validationCase is one object and the field errors it must give.
type validationCase struct {
	name string
	obj  runtime.Object
	old  runtime.Object // set for update validation
	want []string       // "type field" of each expected error, e.g. "FieldValueRequired data[tls.key]"
}

// runValidation defaults each case's object, validates it (as an update
// when old is set) and compares the errors' types and fields.
func runValidation(t *testing.T, r *Resource, cases []validationCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := tc.obj.DeepCopyObject()
			if r.Default != nil {
				r.Default(obj)
			}
			var errs field.ErrorList
			if tc.old != nil {
				errs = r.ValidateUpdate(obj, tc.old)
			} else {
				errs = r.Validate(obj)
			}
			var got []string
			for _, e := range errs {
				got = append(got, string(e.Type)+" "+e.Field)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s\n(%v)", strings.Join(got, "\n"), strings.Join(tc.want, "\n"), errs)
			}
		})
	}
}

func testMeta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, ResourceVersion: "1", UID: "u1"}
}

func TestConfigMapValidation(t *testing.T) {
	yes := true
	runValidation(t, ConfigMaps(), []validationCase{
		{name: "valid", obj: &corev1.ConfigMap{ObjectMeta: testMeta("c", "default"), Data: map[string]string{"a.b-c_D": "1"}}},
		{name: "bad name", obj: &corev1.ConfigMap{ObjectMeta: testMeta("C_1", "default")}, want: []string{"FieldValueInvalid metadata.name"}},
		{name: "no namespace", obj: &corev1.ConfigMap{ObjectMeta: testMeta("c", "")}, want: []string{"FieldValueRequired metadata.namespace"}},
		{name: "bad key", obj: &corev1.ConfigMap{ObjectMeta: testMeta("c", "default"), Data: map[string]string{"a b": "1"}},
			want: []string{"FieldValueInvalid data[a b]"}},
		{name: "key in both", obj: &corev1.ConfigMap{ObjectMeta: testMeta("c", "default"), Data: map[string]string{"k": "1"}, BinaryData: map[string][]byte{"k": nil}},
			want: []string{"FieldValueInvalid data[k]"}},
		{name: "too large", obj: &corev1.ConfigMap{ObjectMeta: testMeta("c", "default"), Data: map[string]string{"k": strings.Repeat("x", maxDataSize+1)}},
			want: []string{"FieldValueTooLong []"}},
		{name: "immutable data changed",
			obj:  &corev1.ConfigMap{ObjectMeta: testMeta("c", "default"), Immutable: &yes, Data: map[string]string{"k": "2"}},
			old:  &corev1.ConfigMap{ObjectMeta: testMeta("c", "default"), Immutable: &yes, Data: map[string]string{"k": "1"}},
			want: []string{"FieldValueForbidden data"}},
		{name: "immutable unset",
			obj:  &corev1.ConfigMap{ObjectMeta: testMeta("c", "default")},
			old:  &corev1.ConfigMap{ObjectMeta: testMeta("c", "default"), Immutable: &yes},
			want: []string{"FieldValueForbidden immutable"}},
	})
}

func TestSecretDefaultsAndValidation(t *testing.T) {
	s := &corev1.Secret{ObjectMeta: testMeta("s", "default"), StringData: map[string]string{"user": "admin"}}
	Secrets().Default(s)
	if s.Type != corev1.SecretTypeOpaque || string(s.Data["user"]) != "admin" || s.StringData != nil {
		t.Fatalf("defaulted secret: %+v", s)
	}
	runValidation(t, Secrets(), []validationCase{
		{name: "tls without key", obj: &corev1.Secret{ObjectMeta: testMeta("s", "default"), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": nil}}, want: []string{"FieldValueRequired data[tls.key]"}},
		{name: "docker config not JSON", obj: &corev1.Secret{ObjectMeta: testMeta("s", "default"), Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{".dockerconfigjson": []byte("{")}}, want: []string{"FieldValueInvalid data[.dockerconfigjson]"}},
		{name: "service account token without its account", obj: &corev1.Secret{ObjectMeta: testMeta("s", "default"), Type: corev1.SecretTypeServiceAccountToken},
			want: []string{"FieldValueRequired metadata.annotations[kubernetes.io/service-account.name]"}},
		{name: "type changed",
			obj:  &corev1.Secret{ObjectMeta: testMeta("s", "default"), Type: corev1.SecretTypeOpaque},
			old:  &corev1.Secret{ObjectMeta: testMeta("s", "default"), Type: "example.com/custom"},
			want: []string{"FieldValueInvalid type"}},
	})
}

func TestNamespaceDefaultsAndValidation(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	r := Namespaces()
	r.Default(ns)
	r.PrepareForCreate(ns)
	if ns.Labels[corev1.LabelMetadataName] != "team-a" || ns.Status.Phase != corev1.NamespaceActive ||
		len(ns.Spec.Finalizers) != 1 {
		t.Fatalf("prepared namespace: %+v", ns)
	}
	runValidation(t, r, []validationCase{
		{name: "valid", obj: &corev1.Namespace{ObjectMeta: testMeta("team-a", "")}},
		{name: "not a DNS label", obj: &corev1.Namespace{ObjectMeta: testMeta("team.a", "")}, want: []string{"FieldValueInvalid metadata.name"}},
		{name: "unqualified finalizer", obj: &corev1.Namespace{ObjectMeta: testMeta("a", ""), Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"mine"}}},
			want: []string{"FieldValueInvalid spec.finalizers[0]"}},
	})
}

// TestStatusSplit: every resource with a status subresource keeps the old
// status on a main write and the old spec on a status write.
func TestStatusSplit(t *testing.T) {
	reg, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reg.Resources() {
		if !r.HasSubresource("status") || r.PrepareForUpdate == nil {
			continue
		}
		t.Run(r.GVR.String(), func(t *testing.T) {
			old := r.New()
			v := reflect.ValueOf(old).Elem()
			spec, status := v.FieldByName("Spec"), v.FieldByName("Status")
			if !spec.IsValid() || !status.IsValid() {
				t.Skip("no spec and status fields")
			}
			// Every resource's hook runs both ways without failing...
			r.PrepareForUpdate(r.New(), old.DeepCopyObject(), "")
			r.PrepareForUpdate(r.New(), old.DeepCopyObject(), "status")
			// ...and, where the old status can be marked, keeps it.
			if phase := status.FieldByName("Phase"); phase.IsValid() && phase.Kind() == reflect.String {
				phase.SetString("Old")
			} else if c := status.FieldByName("ObservedGeneration"); c.IsValid() && c.Kind() == reflect.Int64 {
				c.SetInt(7)
			} else {
				t.Skip("no status field to mark")
			}
			obj := r.New()
			r.PrepareForUpdate(obj, old, "")
			if !reflect.DeepEqual(reflect.ValueOf(obj).Elem().FieldByName("Status").Interface(), status.Interface()) {
				t.Errorf("main write changed status")
			}
			obj = r.New()
			r.PrepareForUpdate(obj, old, "status")
			if !reflect.DeepEqual(reflect.ValueOf(obj).Elem().FieldByName("Spec").Interface(), spec.Interface()) {
				t.Errorf("status write changed spec")
			}
		})
	}
}
