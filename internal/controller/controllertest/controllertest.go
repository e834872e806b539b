package controllertest

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// NewClientset returns a fake clientset holding objs that, like the real
// API, names objects created with only a generateName, gives them a UID
// and a creation timestamp, and sets a new resource version on every
// create and update (tests use it to know when the caches have caught
// up). Tests prepend their own reactors for anything more.
func NewClientset(objs ...runtime.Object) *fake.Clientset {
	client := fake.NewClientset(objs...)
	client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj, ok := a.(k8stesting.CreateAction).GetObject().(metav1.Object)
		if !ok {
			return false, nil, nil
		}
		if obj.GetName() == "" && obj.GetGenerateName() != "" {
			obj.SetName(obj.GetGenerateName() + utilrand.String(5))
		}
		if obj.GetUID() == "" {
			obj.SetUID(types.UID(utilrand.String(10)))
		}
		obj.SetCreationTimestamp(metav1.Now())
		return false, nil, nil
	})
	var rv atomic.Int64
	client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		var obj runtime.Object
		switch a := a.(type) {
		case k8stesting.CreateAction:
			obj = a.GetObject()
		case k8stesting.UpdateAction:
			obj = a.GetObject()
		default:
			return false, nil, nil
		}
		if m, ok := obj.(metav1.Object); ok {
			m.SetResourceVersion(strconv.FormatInt(rv.Add(1), 10))
		}
		return false, nil, nil
	})
	return client
}

// Recorder is a record.EventRecorder that keeps every event as
// "type reason message". The zero value is ready to use.
type Recorder struct {
	mu  sync.Mutex
	all []string
}

// Event records an event.
func (r *Recorder) Event(_ runtime.Object, typ, reason, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, typ+" "+reason+" "+msg)
}

// Eventf records an event with a formatted message.
func (r *Recorder) Eventf(o runtime.Object, typ, reason, f string, args ...any) {
	r.Event(o, typ, reason, fmt.Sprintf(f, args...))
}

// AnnotatedEventf records an event, leaving out the annotations.
func (r *Recorder) AnnotatedEventf(o runtime.Object, _ map[string]string, typ, reason, f string, args ...any) {
	r.Eventf(o, typ, reason, f, args...)
}

// List returns the events recorded so far, oldest first.
func (r *Recorder) List() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.all...)
}
