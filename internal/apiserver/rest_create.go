package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// generateNameAttempts bounds the retries of a generateName create whose
// random suffix collides, as upstream retries.
const generateNameAttempts = 8

// create answers POST to a collection.
func (s *Server) create(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	if info.Name != "" || info.Subresource != "" {
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.GVR.GroupResource(), "create"))
		return
	}
	obj, opts, err := s.readObject(w, r, res)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	created, err := s.createObject(r.Context(), res, info.Namespace, obj, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusCreated, res, created)
}

// writeOptions are what every write request says besides its object.
type writeOptions struct {
	dry bool
	// manager is the field manager the write is recorded for; empty when
	// the managed fields are already computed (server-side apply).
	manager string
}

func parseWriteOptions(r *http.Request) (writeOptions, error) {
	dry, err := dryRun(r)
	if err != nil {
		return writeOptions{}, err
	}
	manager, err := managerName(r)
	return writeOptions{dry: dry, manager: manager}, err
}

// createObject stores a new object: the server's metadata, the resource's
// preparation, defaults and validation, the namespace's lifecycle, then
// the store. A dry run stops before the store.
func (s *Server) createObject(ctx context.Context, res *registry.Resource, namespace string, obj runtime.Object, opts writeOptions) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if err := checkNamespace(res, namespace, m); err != nil {
		return nil, err
	}
	if res.Default != nil {
		res.Default(obj) // upstream defaults as it decodes, before anything else
	}
	if opts.manager != "" {
		fm, err := s.fields.get(s.codecs.scheme, res, "")
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		obj = fm.UpdateNoErrors(res.New(), obj, opts.manager)
		if m, err = meta.Accessor(obj); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
	}
	fillCreateMeta(res, m)
	if res.PrepareForCreate != nil {
		res.PrepareForCreate(obj)
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(generatedName(m.GetGenerateName()))
	}
	h := s.hooksOf(res)
	undo, err := h.runAdmit(ctx, obj, nil, "")
	if err != nil {
		return nil, err
	}
	// LimitRanger defaults and limits, after the resource's own
	// admission (which adds the defaults it depends on), as upstream
	// orders its plugins.
	if err := s.admitLimitRanges(ctx, res, obj); err != nil {
		undo()
		return nil, err
	}
	created, err := s.storeNew(ctx, res, m, obj, opts)
	if err != nil || opts.dry {
		undo()
		return created, err
	}
	h.runWritten(ctx, created, nil)
	return created, nil
}

// storeNew validates a prepared new object and stores it.
func (s *Server) storeNew(ctx context.Context, res *registry.Resource, m metav1.Object, obj runtime.Object, opts writeOptions) (runtime.Object, error) {
	if res.Validate != nil {
		if errs := res.Validate(obj); len(errs) > 0 {
			return nil, invalid(res, m.GetName(), errs)
		}
	}
	if err := s.admitNamespace(ctx, res, m.GetNamespace()); err != nil {
		return nil, err
	}
	if err := s.checkEscalation(ctx, res, obj); err != nil {
		return nil, err
	}
	// ResourceQuota last, once nothing else can refuse the object: it
	// charges the quota.
	if err := s.admitQuota(ctx, res, obj, opts.dry); err != nil {
		return nil, err
	}
	if opts.dry {
		return obj, nil
	}
	for attempt := 1; ; attempt++ {
		value, err := s.encodeObject(res, obj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		kv, err := s.cfg.Store.Create(ctx, objectKey(res, m.GetNamespace(), m.GetName()), value)
		if errors.Is(err, store.ErrExists) && m.GetGenerateName() != "" && attempt < generateNameAttempts {
			m.SetName(generatedName(m.GetGenerateName()))
			continue
		}
		if err != nil {
			return nil, storeError(err, res.GVR.GroupResource(), m.GetName())
		}
		setResourceVersion(obj, kv.ModRevision)
		return obj, nil
	}
}

// checkNamespace makes the object's namespace the URL's: empty is filled
// in, a different one is refused as upstream refuses it.
func checkNamespace(res *registry.Resource, namespace string, m metav1.Object) error {
	if !res.Namespaced {
		m.SetNamespace("")
		return nil
	}
	switch m.GetNamespace() {
	case "":
		m.SetNamespace(namespace)
	case namespace:
	default:
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return nil
}

// fillCreateMeta sets what the server owns on a new object, as upstream's
// FillObjectMetaSystemFields and BeforeCreate do.
func fillCreateMeta(res *registry.Resource, m metav1.Object) {
	m.SetUID(newUID())
	m.SetCreationTimestamp(metav1.Now())
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetSelfLink("")
	if res.SpecChanged != nil {
		m.SetGeneration(1)
	} else {
		m.SetGeneration(0)
	}
}

func newUID() types.UID { return types.UID(uuid.NewUUID()) }

// generatedName appends upstream's five random characters.
func generatedName(base string) string {
	const maxGeneratedNameLength = 63 - 5
	if len(base) > maxGeneratedNameLength {
		base = base[:maxGeneratedNameLength]
	}
	return base + utilrand.String(5)
}

// admitNamespace is upstream's NamespaceLifecycle admission: nothing is
// created in a namespace that does not exist or is being deleted.
func (s *Server) admitNamespace(ctx context.Context, res *registry.Resource, namespace string) error {
	if !res.Namespaced {
		return nil
	}
	nsRes, ok := s.cfg.Registry.Lookup(namespacesGVR)
	if !ok {
		return nil
	}
	obj, _, err := s.getObject(ctx, nsRes, "", namespace)
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(namespacesGVR.GroupResource(), namespace)
	}
	if err != nil {
		return err
	}
	if m, err := meta.Accessor(obj); err == nil && m.GetDeletionTimestamp() != nil {
		// The cause lets controllers tell this refusal from others and
		// drop the work instead of retrying it, as upstream's lifecycle
		// admission says it.
		err := apierrors.NewForbidden(res.GVR.GroupResource(), "",
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", namespace))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: corev1.NamespaceTerminatingCause, Message: fmt.Sprintf("namespace %s is being terminated", namespace),
			Field: "metadata.namespace"})
		return err
	}
	return nil
}

// invalid is a 422 for one object.
func invalid(res *registry.Resource, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(res.GroupVersionKind().GroupKind(), name, errs)
}
