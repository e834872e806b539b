package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// maxUpdateAttempts bounds the retries of a read-modify-write that loses
// races with other writers.
const maxUpdateAttempts = 16

// mutation computes an object's new state from its current one.
type mutation func(cur runtime.Object, curRev int64) (runtime.Object, error)

// update answers PUT of an object or a subresource.
func (s *Server) update(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	obj, opts, err := s.readObject(w, r, res)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, _ := meta.Accessor(obj)
	if m.GetName() != info.Name {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), info.Name)))
		return
	}
	updated, err := s.updateObject(r.Context(), res, info, opts, func(cur runtime.Object, curRev int64) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusOK, res, updated)
}

// updateObject is the read-modify-write every change goes through: read
// the object, let mutate make the new state, apply the server's rules,
// validate, and write it guarded by the revision read, retrying on a race.
// A resourceVersion in the new state is the client's precondition. A
// change that leaves the stored bytes as they were writes nothing. An
// object being deleted whose last finalizer goes is deleted.
func (s *Server) updateObject(ctx context.Context, res *registry.Resource, info requestInfo, opts writeOptions, mutate mutation) (runtime.Object, error) {
	var fm *managedfields.FieldManager
	if opts.manager != "" {
		var err error
		if fm, err = s.fields.get(s.codecs.scheme, res, info.Subresource); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
	}
	for attempt := 1; ; attempt++ {
		obj, err := s.updateOnce(ctx, res, info, opts, fm, mutate)
		if errors.Is(err, store.ErrConflict) && attempt < maxUpdateAttempts {
			continue // another writer won; read again
		}
		if err != nil {
			return nil, storeError(err, res.GVR.GroupResource(), info.Name)
		}
		return obj, nil
	}
}

// updateOnce is one read-modify-write. A lost race comes back as the
// store's conflict error, which the caller retries.
func (s *Server) updateOnce(ctx context.Context, res *registry.Resource, info requestInfo, opts writeOptions,
	fm *managedfields.FieldManager, mutate mutation) (runtime.Object, error) {
	key := objectKey(res, info.Namespace, info.Name)
	kv, err := s.cfg.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	cur, err := s.decodeObject(res, kv)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	obj, err := mutate(cur.DeepCopyObject(), kv.ModRevision)
	if err != nil {
		return nil, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if rv := m.GetResourceVersion(); rv != "" && rv != strconv.FormatInt(kv.ModRevision, 10) {
		return nil, conflict(res, info.Name)
	}
	if err := checkNamespace(res, info.Namespace, m); err != nil {
		return nil, err
	}
	if res.Default != nil {
		res.Default(obj)
	}
	if fm != nil {
		obj = fm.UpdateNoErrors(cur, obj, opts.manager)
		if m, err = meta.Accessor(obj); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
	}
	prepareUpdate(res, obj, cur, info.Subresource)
	h := s.hooksOf(res)
	undo, err := h.runAdmit(ctx, obj, cur, info.Subresource)
	if err != nil {
		return nil, err
	}
	written, gone, err := s.storeChange(ctx, res, info, key, kv, cur, obj, m, opts)
	if err != nil || opts.dry || written == cur {
		undo()
		return written, err
	}
	if gone {
		h.runWritten(ctx, nil, cur)
	} else {
		h.runWritten(ctx, written, cur)
	}
	return written, nil
}

// storeChange validates a prepared change and stores it: an update, or the
// delete of an object whose deletion nothing holds any more. It returns
// cur itself when nothing changed.
func (s *Server) storeChange(ctx context.Context, res *registry.Resource, info requestInfo, key string, kv store.KV,
	cur, obj runtime.Object, m metav1.Object, opts writeOptions) (written runtime.Object, gone bool, err error) {
	if errs := validateUpdate(res, obj, cur); len(errs) > 0 {
		return nil, false, invalid(res, info.Name, errs)
	}
	if err := s.checkEscalation(ctx, res, obj); err != nil {
		return nil, false, err
	}
	value, err := s.encodeObject(res, obj)
	if err != nil {
		return nil, false, apierrors.NewInternalError(err)
	}
	if bytes.Equal(value, kv.Value) {
		return cur, false, nil // nothing changed: upstream writes nothing either
	}
	if opts.dry {
		setResourceVersion(obj, kv.ModRevision)
		return obj, false, nil
	}
	var rev int64
	if finished(res, obj, m) {
		_, rev, err = s.cfg.Store.Delete(ctx, key, kv.ModRevision)
		gone = true
	} else {
		var w store.KV
		w, err = s.cfg.Store.Update(ctx, key, value, kv.ModRevision)
		rev = w.ModRevision
	}
	if err != nil {
		return nil, false, err
	}
	setResourceVersion(obj, rev)
	return obj, gone, nil
}

// finished says whether an object being deleted may now go: no finalizer
// and nothing else holds it, and no grace period is still running.
func finished(res *registry.Resource, obj runtime.Object, m metav1.Object) bool {
	grace := m.GetDeletionGracePeriodSeconds()
	return m.GetDeletionTimestamp() != nil && len(m.GetFinalizers()) == 0 && !holdsDeletion(res, obj) &&
		(grace == nil || *grace == 0)
}

func conflict(res *registry.Resource, name string) error {
	return apierrors.NewConflict(res.GVR.GroupResource(), name,
		errors.New("the object has been modified; please apply your changes to the latest version and try again"))
}

func holdsDeletion(res *registry.Resource, obj runtime.Object) bool {
	return res.HoldsDeletion != nil && res.HoldsDeletion(obj)
}

// prepareUpdate applies upstream's BeforeUpdate rules: what the server owns
// in metadata is carried over, a status write changes only status, and the
// generation moves only when the spec does.
func prepareUpdate(res *registry.Resource, obj, old runtime.Object, sub string) {
	m, _ := meta.Accessor(obj)
	o, _ := meta.Accessor(old)
	if sub == "status" {
		// Upstream's ResetObjectMetaForStatus.
		m.SetLabels(o.GetLabels())
		m.SetAnnotations(o.GetAnnotations())
		m.SetFinalizers(o.GetFinalizers())
		m.SetOwnerReferences(o.GetOwnerReferences())
	}
	m.SetGeneration(o.GetGeneration())
	if m.GetUID() == "" {
		m.SetUID(o.GetUID())
	}
	if created := o.GetCreationTimestamp(); !created.IsZero() {
		m.SetCreationTimestamp(created)
	}
	if o.GetDeletionTimestamp() != nil {
		m.SetDeletionTimestamp(o.GetDeletionTimestamp())
		m.SetDeletionGracePeriodSeconds(o.GetDeletionGracePeriodSeconds())
	} else {
		m.SetDeletionTimestamp(nil)
		m.SetDeletionGracePeriodSeconds(nil)
	}
	m.SetSelfLink("")
	if res.PrepareForUpdate != nil {
		res.PrepareForUpdate(obj, old, sub)
	}
	if res.SpecChanged != nil && res.SpecChanged(obj, old) {
		m.SetGeneration(o.GetGeneration() + 1)
	}
}

// validateUpdate runs the resource's update validation, or upstream's
// metadata update checks and the create validation when it has none.
func validateUpdate(res *registry.Resource, obj, old runtime.Object) (errs field.ErrorList) {
	if res.ValidateUpdate != nil {
		return res.ValidateUpdate(obj, old)
	}
	nm, err1 := registry.ObjectMeta(obj)
	om, err2 := registry.ObjectMeta(old)
	if err := errors.Join(err1, err2); err != nil {
		return field.ErrorList{field.InternalError(metadataPath, err)}
	}
	errs = apivalidation.ValidateObjectMetaUpdate(nm, om, metadataPath)
	if res.Validate != nil {
		errs = append(errs, res.Validate(obj)...)
	}
	return errs
}
