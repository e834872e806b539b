package job

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// uidExpectations remembers, per job UID, the pods whose tracking
// finalizer the controller removed but whose update the pod cache has not
// shown yet. Until it has, such a pod still looks uncounted in the cache;
// counting it again would count it twice (upstream's
// uidTrackingExpectations).
type uidExpectations struct {
	mu sync.Mutex
	m  map[types.UID]map[types.UID]bool
}

func newUIDExpectations() *uidExpectations {
	return &uidExpectations{m: map[types.UID]map[types.UID]bool{}}
}

func (e *uidExpectations) expect(job types.UID, pods []*corev1.Pod) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.m[job]
	if s == nil {
		s = map[types.UID]bool{}
		e.m[job] = s
	}
	for _, p := range pods {
		s[p.UID] = true
	}
}

func (e *uidExpectations) observed(job, pod types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.m[job]; s != nil {
		delete(s, pod)
		if len(s) == 0 {
			delete(e.m, job)
		}
	}
}

func (e *uidExpectations) has(job, pod types.UID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[job][pod]
}

func (e *uidExpectations) forget(job types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, job)
}

// addFinalizerPatch appends our finalizer to whatever the pod has.
var addFinalizerPatch = func() []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"finalizers": []string{batchv1.JobTrackingFinalizer},
	}})
	return b
}()

// removeFinalizerPatch is upstream's strategic merge patch that drops only
// our finalizer, leaving others' in place.
var removeFinalizerPatch = func() []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"$deleteFromPrimitiveList/finalizers": []string{batchv1.JobTrackingFinalizer},
	}})
	return b
}()

func (c *Controller) removeFinalizer(ctx context.Context, p *corev1.Pod) error {
	_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, removeFinalizerPatch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing tracking finalizer from pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// removeFinalizers removes the tracking finalizer from pods and reports,
// per pod, whether that worked (or the pod is gone).
func (c *Controller) removeFinalizers(ctx context.Context, jobUID types.UID, pods []*corev1.Pod) ([]bool, error) {
	c.finalizers.expect(jobUID, pods)
	ok := make([]bool, len(pods))
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.removeFinalizer(ctx, p); err != nil {
				// Never seen removed: stop expecting it.
				c.finalizers.observed(jobUID, p.UID)
				errs[i] = err
				return
			}
			ok[i] = true
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return ok, err
		}
	}
	return ok, nil
}

// syncOrphanPod removes the tracking finalizer from a pod whose job is
// gone or finished: nobody will count it any more.
func (c *Controller) syncOrphanPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	p, err := c.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !hasTrackingFinalizer(p) {
		return nil
	}
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		if ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
			return nil // not a Job's pod: not ours to touch
		}
		if j, ok := c.jobForPod(p); ok {
			if j.Spec.ManagedBy != nil && *j.Spec.ManagedBy != jobControllerName {
				return nil
			}
			if !jobFinished(j) {
				return nil // adopted, or its job still counts it
			}
		}
	}
	return c.removeFinalizer(ctx, p)
}
