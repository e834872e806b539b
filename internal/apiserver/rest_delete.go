package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// deleteOptions reads DeleteOptions from the body (JSON or YAML) and the
// query, as upstream accepts them from either.
func (s *Server) deleteOptions(r *http.Request) (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	body, err := readBody(r)
	if err != nil {
		return opts, err
	}
	if len(body) > 0 {
		if err := s.decodeOptions(r, body, &opts); err != nil {
			return opts, err
		}
	}
	q := r.URL.Query()
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("gracePeriodSeconds"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return opts, apierrors.NewBadRequest(fmt.Sprintf("invalid gracePeriodSeconds %q", v))
		}
		opts.GracePeriodSeconds = &secs
	}
	if dry, err := dryRun(r); err != nil {
		return opts, err
	} else if dry {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	for _, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			return opts, apierrors.NewBadRequest(fmt.Sprintf("dryRun: unsupported value %q", v))
		}
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return opts, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy: unsupported value %q", *p))
		}
	}
	return opts, nil
}

// remove answers DELETE of one object.
func (s *Server) remove(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	opts, err := s.deleteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, gone, err := s.deleteObject(r.Context(), res, info.Namespace, info.Name, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if gone && !res.ReturnDeletedObject {
		m, _ := meta.Accessor(obj)
		s.writeRaw(w, r, http.StatusOK, &metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status:   metav1.StatusSuccess,
			Details:  &metav1.StatusDetails{Name: info.Name, Group: res.GVR.Group, Kind: res.GVR.Resource, UID: m.GetUID()},
		})
		return
	}
	s.writeObject(w, r, http.StatusOK, res, obj)
}

// deleteObject deletes an object, or, when finalizers (or the resource)
// hold it, marks it deleted and leaves it to them. It returns the object
// and whether it is gone from the store.
func (s *Server) deleteObject(ctx context.Context, res *registry.Resource, namespace, name string, opts metav1.DeleteOptions) (runtime.Object, bool, error) {
	gr := res.GVR.GroupResource()
	key := objectKey(res, namespace, name)
	dry := len(opts.DryRun) > 0
	for attempt := 1; ; attempt++ {
		kv, err := s.cfg.Store.Get(ctx, key)
		if err != nil {
			return nil, false, storeError(err, gr, name)
		}
		obj, err := s.decodeObject(res, kv)
		if err != nil {
			return nil, false, apierrors.NewInternalError(err)
		}
		m, _ := meta.Accessor(obj)
		if err := checkPreconditions(res, name, m, opts.Preconditions); err != nil {
			return nil, false, err
		}
		if finalizer := propagationFinalizer(opts); finalizer != "" && !slices.Contains(m.GetFinalizers(), finalizer) {
			m.SetFinalizers(append(m.GetFinalizers(), finalizer))
		}
		h := s.hooksOf(res)
		var grace int64
		graceful := false
		if h.gracePeriod != nil {
			grace, graceful = h.gracePeriod(obj, opts)
		}
		if len(m.GetFinalizers()) == 0 && !holdsDeletion(res, obj) && !graceful {
			if dry {
				return obj, true, nil
			}
			_, rev, err := s.cfg.Store.Delete(ctx, key, kv.ModRevision)
			if errors.Is(err, store.ErrConflict) && attempt < maxUpdateAttempts {
				continue
			}
			if err != nil {
				return nil, false, storeError(err, gr, name)
			}
			setResourceVersion(obj, rev)
			h.runWritten(ctx, nil, obj)
			return obj, true, nil
		}
		// Held or graceful: mark it and leave it to whoever holds or runs
		// it. A later delete may shorten the grace period, never lengthen it.
		now := metav1.Now()
		until := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
		if old := m.GetDeletionTimestamp(); old == nil || (graceful && until.Before(old)) {
			m.SetDeletionTimestamp(&until)
			m.SetDeletionGracePeriodSeconds(&grace)
			if res.BeginDeletion != nil && old == nil {
				res.BeginDeletion(obj)
			}
		}
		if dry {
			return obj, false, nil
		}
		value, err := s.encodeObject(res, obj)
		if err != nil {
			return nil, false, apierrors.NewInternalError(err)
		}
		if bytes.Equal(value, kv.Value) {
			return obj, false, nil
		}
		written, err := s.cfg.Store.Update(ctx, key, value, kv.ModRevision)
		if errors.Is(err, store.ErrConflict) && attempt < maxUpdateAttempts {
			continue
		}
		if err != nil {
			return nil, false, storeError(err, gr, name)
		}
		setResourceVersion(obj, written.ModRevision)
		return obj, false, nil
	}
}

// propagationFinalizer is the finalizer a propagation policy asks for:
// the garbage collector acts on it.
func propagationFinalizer(opts metav1.DeleteOptions) string {
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationOrphan:
			return metav1.FinalizerOrphanDependents
		case metav1.DeletePropagationForeground:
			return metav1.FinalizerDeleteDependents
		}
	}
	//nolint:staticcheck // OrphanDependents is deprecated but still honoured upstream
	if opts.OrphanDependents != nil && *opts.OrphanDependents {
		return metav1.FinalizerOrphanDependents
	}
	return ""
}

func checkPreconditions(res *registry.Resource, name string, m metav1.Object, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	if p.UID != nil && *p.UID != m.GetUID() {
		return apierrors.NewConflict(res.GVR.GroupResource(), name,
			fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return apierrors.NewConflict(res.GVR.GroupResource(), name,
			fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v",
				*p.ResourceVersion, m.GetResourceVersion()))
	}
	return nil
}

// deleteCollection answers DELETE of a collection: every object the
// selectors match is deleted as a single DELETE would, and the deleted
// objects are returned as a list.
func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	opts, err := s.deleteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := parseFilter(res, r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	objs, lm, err := s.listObjects(r.Context(), res, info.Namespace, listQuery{filter: f})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	deleted := make([]runtime.Object, 0, len(objs))
	for _, obj := range objs {
		m, _ := meta.Accessor(obj)
		got, _, err := s.deleteObject(r.Context(), res, m.GetNamespace(), m.GetName(), opts)
		if apierrors.IsNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		deleted = append(deleted, got)
	}
	s.writeList(w, r, res, deleted, lm)
}
