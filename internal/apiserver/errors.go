package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/store"
)

// storeError turns a store error about one object into the API error
// kube-apiserver gives for the same condition.
func storeError(err error, gr schema.GroupResource, name string) error {
	var conflict *store.ConflictError
	var apiErr apierrors.APIStatus
	switch {
	case errors.As(err, &apiErr):
		return err // already the API's answer
	case errors.Is(err, store.ErrNotFound):
		return apierrors.NewNotFound(gr, name)
	case errors.Is(err, store.ErrExists):
		return apierrors.NewAlreadyExists(gr, name)
	case errors.As(err, &conflict):
		return apierrors.NewConflict(gr, name,
			errors.New("the object has been modified; please apply your changes to the latest version and try again"))
	case errors.Is(err, store.ErrCompacted):
		return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %v", err))
	case errors.Is(err, store.ErrInvalidContinue):
		return apierrors.NewBadRequest(fmt.Sprintf("continue key is not valid: %v", err))
	case errors.Is(err, store.ErrFutureRevision):
		return apierrors.NewTimeoutError("Too large resource version", 1)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError(err.Error(), 0)
	}
	return apierrors.NewInternalError(err)
}

// statusOf is the Status an error is answered with.
func statusOf(err error) *metav1.Status {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		return &st
	}
	st := apierrors.NewInternalError(err).Status()
	return &st
}

// writeError answers with err's Status.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := statusOf(err)
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	if st.Code >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	st.Kind, st.APIVersion = "Status", "v1"
	s.writeRaw(w, r, int(st.Code), st)
}
