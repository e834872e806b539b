package apiserver

// Upstream's ResourceQuota admission plugin, the last one run on a
// create: a new object is charged to every quota of its namespace that
// tracks it (usage.Matches). A pod must state the requests and limits a
// quota tracks ("must specify ..."); a quota the controller has not yet
// counted refuses everything it tracks ("status unknown ..."); a charge
// that would take status.used past status.hard is refused with upstream's
// "exceeded quota: ..." words. Otherwise status.used is raised before the
// object is stored, each quota in one guarded write that re-checks the
// quota as it is then, so concurrent creates cannot both slip under the
// limit. As upstream, a charge is not taken back if the create then
// fails; the resourcequota controller recounts it. A dry run checks and
// charges nothing.

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/controller/resourcequota/usage"
	"mini.dev/mini/internal/registry"
)

var resourceQuotasGVR = corev1.SchemeGroupVersion.WithResource("resourcequotas")

// admitQuota checks a new object against its namespace's quotas and, but
// on a dry run, charges it to them. Its refusals are upstream's 403.
func (s *Server) admitQuota(ctx context.Context, res *registry.Resource, obj runtime.Object, dry bool) error {
	qres, ok := s.cfg.Registry.Lookup(resourceQuotasGVR)
	if !ok || !res.Namespaced {
		return nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	objs, _, err := s.listObjects(ctx, qres, m.GetNamespace(), listQuery{filter: matchAll(qres)})
	if err != nil || len(objs) == 0 {
		return err
	}
	gr := res.GVR.GroupResource()
	delta := usage.RemoveZeros(usage.Of(gr, obj, time.Now()))
	var charge []*corev1.ResourceQuota
	for _, o := range objs {
		q := o.(*corev1.ResourceQuota)
		if !usage.Matches(q, gr, obj) {
			continue
		}
		if err := quotaAllows(q, gr, obj, delta); err != nil {
			return admissionError(gr, m.GetName(), err)
		}
		charge = append(charge, q)
	}
	if dry || len(delta) == 0 {
		return nil
	}
	for _, q := range charge {
		err := s.chargeQuota(ctx, qres, q, gr, obj, delta)
		if apierrors.IsNotFound(err) {
			continue // deleted since it was listed
		}
		if err != nil {
			return admissionError(gr, m.GetName(), err)
		}
	}
	return nil
}

// quotaAllows is upstream's checkRequest for one quota that tracks obj.
func quotaAllows(q *corev1.ResourceQuota, gr schema.GroupResource, obj runtime.Object, delta corev1.ResourceList) error {
	tracked := usage.Tracked(q, gr)
	if err := usage.Constraints(tracked, obj); err != nil {
		return denied(fmt.Errorf("failed quota: %s: %w", q.Name, err))
	}
	for _, r := range tracked {
		if _, ok := q.Status.Used[r]; !ok {
			return denied(fmt.Errorf("status unknown for quota: %s, resources: %s", q.Name, joinNames(tracked)))
		}
	}
	requested := usage.Mask(delta, usage.Names(q.Status.Hard))
	total := usage.Mask(usage.Add(q.Status.Used, requested), usage.Names(requested))
	if ok, exceeded := usage.LessThanOrEqual(total, q.Status.Hard); !ok {
		return denied(fmt.Errorf("exceeded quota: %s, requested: %s, used: %s, limited: %s", q.Name,
			usage.String(usage.Mask(requested, exceeded)), usage.String(usage.Mask(q.Status.Used, exceeded)),
			usage.String(usage.Mask(q.Status.Hard, exceeded))))
	}
	return nil
}

// chargeQuota raises one quota's status.used by the object's charge,
// checked again against the quota as it is at the write.
func (s *Server) chargeQuota(ctx context.Context, qres *registry.Resource, q *corev1.ResourceQuota, gr schema.GroupResource,
	obj runtime.Object, delta corev1.ResourceList) error {
	info := requestInfo{Verb: "update", GVR: qres.GVR, Namespace: q.Namespace, Name: q.Name, Subresource: "status"}
	_, err := s.updateObject(ctx, qres, info, writeOptions{}, func(cur runtime.Object, _ int64) (runtime.Object, error) {
		fresh := cur.(*corev1.ResourceQuota)
		if !usage.Matches(fresh, gr, obj) {
			return fresh, nil // no longer tracks it: nothing to charge
		}
		if err := quotaAllows(fresh, gr, obj, delta); err != nil {
			return nil, err
		}
		fresh.Status.Used = usage.Add(fresh.Status.Used, usage.Mask(delta, usage.Names(fresh.Status.Hard)))
		return fresh, nil
	})
	return err
}

func joinNames(names []corev1.ResourceName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ",")
}
