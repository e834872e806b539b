package daemonset

import (
	"context"
	"errors"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"mini.dev/mini/internal/controller/owned"
)

// slowStartBatch is the first batch of creations; each later batch
// doubles, so a template the API keeps rejecting fails once, not on every
// node at once (upstream's slow start).
const slowStartBatch = 1

// syncNodes deletes the named pods and creates one pod for each node in
// create, within burstReplicas, raising expectations first so the next
// sync waits for the cache to see them.
func (c *Controller) syncNodes(ctx context.Context, ds *appsv1.DaemonSet, del, create []string, hash string) error {
	key, err := cache.MetaNamespaceKeyFunc(ds)
	if err != nil {
		return err
	}
	if len(create) > burstReplicas {
		create = create[:burstReplicas]
	}
	if len(del) > burstReplicas {
		del = del[:burstReplicas]
	}
	c.expectations.Expect(key, len(create), len(del))
	for _, name := range del {
		c.expectDeletion(key, name)
	}
	generation, err := templateGeneration(ds)
	if err != nil {
		generation = nil
	}
	template := podTemplate(ds, generation, hash)

	var mu sync.Mutex
	var errs []error
	record := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for pos, batch := 0, min(len(create), slowStartBatch); pos < len(create); pos, batch = pos+batch, min(2*batch, len(create)-pos-batch) {
		before := len(errs)
		var wg sync.WaitGroup
		for _, node := range create[pos : pos+batch] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.createPod(ctx, ds, template, node); err != nil {
					c.expectations.CreationObserved(key)
					record(err)
				}
			}()
		}
		wg.Wait()
		if len(errs) > before {
			// The rest are not attempted; stop expecting them.
			for range len(create) - pos - batch {
				c.expectations.CreationObserved(key)
			}
			break
		}
	}

	var wg sync.WaitGroup
	for _, name := range del {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.deletePodNamed(ctx, ds, name); err != nil {
				c.deletionObserved(key, name)
				if !apierrors.IsNotFound(err) {
					record(err)
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// createPod creates the daemon pod for node, pinned to it by affinity.
func (c *Controller) createPod(ctx context.Context, ds *appsv1.DaemonSet, template *corev1.PodTemplateSpec, node string) error {
	t := template.DeepCopy()
	t.Spec.Affinity = pinToNode(t.Spec.Affinity, node)
	pod := owned.PodFromTemplate(t, ds, controllerKind)
	if len(pod.Labels) == 0 {
		return fmt.Errorf("unable to create pods, no labels")
	}
	created, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace is going; nothing to report
		}
		c.recorder.Eventf(ds, corev1.EventTypeWarning, reasonFailedCreate, "Error creating: %v", err)
		return fmt.Errorf("creating daemon pod for node %s: %w", node, err)
	}
	c.log.Debug("created pod", "daemonset", ds.Namespace+"/"+ds.Name, "pod", created.Name, "node", node)
	c.recorder.Eventf(ds, corev1.EventTypeNormal, reasonSuccessfulCreate, "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) deletePodNamed(ctx context.Context, ds *appsv1.DaemonSet, name string) error {
	err := c.client.CoreV1().Pods(ds.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		c.recorder.Eventf(ds, corev1.EventTypeWarning, reasonFailedDelete, "Error deleting: %v", err)
		return fmt.Errorf("deleting daemon pod %s/%s: %w", ds.Namespace, name, err)
	}
	c.log.Debug("deleted pod", "daemonset", ds.Namespace+"/"+ds.Name, "pod", name)
	c.recorder.Eventf(ds, corev1.EventTypeNormal, reasonSuccessfulDelete, "Deleted pod: %v", name)
	return nil
}
