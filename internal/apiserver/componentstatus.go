package apiserver

// componentstatuses are synthesized on every read, never stored, as
// upstream's componentstatus REST does it: one ComponentStatus per
// control-plane component with a single Healthy condition. Upstream
// probes the scheduler, the controller manager and each etcd member;
// mini reports its store as etcd-0 and asks the server about the
// scheduler and the controller manager, which run in its process
// (Config.Components); one it does not run (--disable-scheduler) is
// reported as upstream shows a component it cannot reach: condition
// Unknown, the reason in Error.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// componentStatusWarning is the deprecation warning upstream attaches to
// every componentstatuses request.
const componentStatusWarning = `299 - "v1 ComponentStatus is deprecated in v1.19+"`

// componentProbe checks one component: its condition status, message and
// error.
type componentProbe func(ctx context.Context) (corev1.ConditionStatus, string, string)

// componentProbes are the components upstream lists, by name.
func (s *Server) componentProbes() map[string]componentProbe {
	probes := map[string]componentProbe{"etcd-0": s.probeStore}
	for name, what := range map[string]string{"scheduler": "a scheduler", "controller-manager": "the controllers"} {
		probe, ok := s.cfg.Components[name]
		if !ok {
			probes[name] = func(context.Context) (corev1.ConditionStatus, string, string) {
				return corev1.ConditionUnknown, "", fmt.Sprintf("this server does not run %s", what)
			}
			continue
		}
		probes[name] = func(ctx context.Context) (corev1.ConditionStatus, string, string) {
			if err := probe(ctx); err != nil {
				return corev1.ConditionFalse, "", err.Error()
			}
			return corev1.ConditionTrue, "ok", ""
		}
	}
	return probes
}

// probeStore reads a key: the store answers (not found is an answer) or
// it is unhealthy.
func (s *Server) probeStore(ctx context.Context) (corev1.ConditionStatus, string, string) {
	if _, err := s.cfg.Store.Get(ctx, "/registry/health"); err != nil && !errors.Is(err, store.ErrNotFound) {
		return corev1.ConditionFalse, "", err.Error()
	}
	return corev1.ConditionTrue, "ok", ""
}

func (s *Server) componentStatusHooks() *hooks {
	return &hooks{read: s.serveComponentStatuses}
}

// serveComponentStatuses answers get and list; componentstatuses cannot
// be watched.
func (s *Server) serveComponentStatuses(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	w.Header().Add("Warning", componentStatusWarning)
	probes := s.componentProbes()
	switch info.Verb {
	case "get":
		probe, ok := probes[info.Name]
		if !ok {
			// Upstream's plain error, a 500 without a reason.
			s.writeError(w, r, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure,
				Code: http.StatusInternalServerError, Message: "Component not found: " + info.Name}})
			return
		}
		s.writeObject(w, r, http.StatusOK, res, componentStatus(r.Context(), info.Name, probe))
	case "list":
		f, err := parseFilter(res, r.URL.Query())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		names := make([]string, 0, len(probes))
		for name := range probes {
			names = append(names, name)
		}
		sort.Strings(names)
		var objs []runtime.Object
		for _, name := range names {
			if cs := componentStatus(r.Context(), name, probes[name]); f.matches(cs) {
				objs = append(objs, cs)
			}
		}
		s.writeList(w, r, res, objs, metav1.ListMeta{})
	default:
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.GVR.GroupResource(), info.Verb))
	}
}

func componentStatus(ctx context.Context, name string, probe componentProbe) *corev1.ComponentStatus {
	status, msg, errMsg := probe(ctx)
	return &corev1.ComponentStatus{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Conditions: []corev1.ComponentCondition{{Type: corev1.ComponentHealthy, Status: status, Message: msg, Error: errMsg}},
	}
}
