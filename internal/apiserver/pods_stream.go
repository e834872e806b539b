package apiserver

// pods/log, pods/exec, pods/attach and pods/portforward, as upstream's
// pod REST subresources (LogREST, ExecREST, AttachREST, PortForwardREST):
// the API server checks the request against the pod, then streams from
// or proxies to the kubelet endpoint of the pod's node.
//
// Exec and attach are proxied with an UpgradeAwareHandler for SPDY
// clients; WebSocket clients speaking v5.channel.k8s.io (kubectl 1.30+)
// are translated to SPDY towards the node by a StreamTranslatorHandler.
// Port-forward is proxied the same way, with WebSocket clients tunnelling
// SPDY (TunnelingHandler). This is kube-apiserver's wiring with the
// TranslateStreamCloseWebsocketRequests and PortForwardWebsockets gates
// on.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/proxy"
	streamproxy "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"mini.dev/mini/internal/registry"
)

// servePodLog answers GET pods/NAME/log: the container's log from the
// node, streamed as it comes (follow).
func (s *Server) servePodLog(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	if info.Verb != "get" {
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.GVR.GroupResource(), info.Verb))
		return
	}
	opts, err := parsePodLogOptions(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if errs := validatePodLogOptions(opts); len(errs) > 0 {
		s.writeError(w, r, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("PodLogOptions").GroupKind(), info.Name, errs))
		return
	}
	pod, err := s.streamPod(r.Context(), res, info)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	container, err := podContainer(pod, opts.Container)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := containerLogStatus(pod, container, opts.Previous); err != nil {
		s.writeError(w, r, err)
		return
	}
	loc, err := s.kubeletLocation(r.Context(), pod,
		fmt.Sprintf("/containerLogs/%s/%s/%s", pod.Namespace, pod.Name, container), kubeletLogQuery(opts))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tr, err := s.kubeletTransport()
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, loc.String(), nil)
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		// Upstream answers with the transport's error as it is.
		s.writeError(w, r, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: err.Error()}})
		return
	}
	defer resp.Body.Close()
	if err := kubeletResponseError(resp, res, info.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	copyFlushing(w, resp.Body)
}

// copyFlushing copies a log to the client, flushing each piece so that
// followed logs arrive as they are written.
func copyFlushing(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32*1024)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// kubeletResponseError is upstream's GenericHttpResponseChecker: a
// kubelet's error answer becomes the API's, its body the message.
func kubeletResponseError(resp *http.Response, res *registry.Resource, name string) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= http.StatusPartialContent {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	text := string(body)
	switch resp.StatusCode {
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(fmt.Errorf("%s", text))
	case http.StatusBadRequest:
		return apierrors.NewBadRequest(text)
	}
	return apierrors.NewGenericServerResponse(resp.StatusCode, "", res.GVR.GroupResource(), name, text, 0, false)
}

// authorizeStreamCreate asks for create on the subresource as well when
// a stream is opened with a GET (WebSocket upgrades are GETs), as
// kube-apiserver does since 1.31: a role that only reads pods/* must not
// give a shell.
func (s *Server) authorizeStreamCreate(r *http.Request, info requestInfo) error {
	if info.Verb != "get" {
		return nil // create was the verb authorized already
	}
	info.Verb = "create"
	return s.authorize(r.Context(), info)
}

// servePodExec answers pods/NAME/exec.
func (s *Server) servePodExec(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	s.serveRemoteCommand(w, r, res, info, "exec")
}

// servePodAttach answers pods/NAME/attach.
func (s *Server) servePodAttach(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	s.serveRemoteCommand(w, r, res, info, "attach")
}

func (s *Server) serveRemoteCommand(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo, kind string) {
	if info.Verb != "get" && info.Verb != "create" {
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.GVR.GroupResource(), info.Verb))
		return
	}
	if err := s.authorizeStreamCreate(r, info); err != nil {
		s.writeError(w, r, err)
		return
	}
	opts, err := parseStreamOptions(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pod, err := s.streamPod(r.Context(), res, info)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	container, err := podContainer(pod, opts.container)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("cannot %s into a container in a completed pod; current phase is %s", kind, pod.Status.Phase)))
		return
	}
	loc, err := s.kubeletLocation(r.Context(), pod,
		fmt.Sprintf("/%s/%s/%s/%s", kind, pod.Namespace, pod.Name, container), opts.kubeletQuery(kind == "exec"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tr, err := s.kubeletTransport()
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	upgrade := proxy.NewUpgradeAwareHandler(loc, tr, false, true, streamResponder{s})
	translator := streamproxy.NewStreamTranslatorHandler(loc, tr, 0, streamproxy.Options{
		Stdin: opts.stdin, Stdout: opts.stdout, Stderr: opts.stderr, Tty: opts.tty})
	streamproxy.NewTranslatingHandler(upgrade, translator, wsstream.IsWebSocketRequestWithStreamCloseProtocol).ServeHTTP(w, r)
}

// servePodPortForward answers pods/NAME/portforward.
func (s *Server) servePodPortForward(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	if info.Verb != "get" && info.Verb != "create" {
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.GVR.GroupResource(), info.Verb))
		return
	}
	if err := s.authorizeStreamCreate(r, info); err != nil {
		s.writeError(w, r, err)
		return
	}
	query := url.Values{}
	for _, p := range r.URL.Query()["ports"] {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("invalid port %q: %v", p, err)))
			return
		}
		query.Add("port", p)
	}
	pod, err := s.streamPod(r.Context(), res, info)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	loc, err := s.kubeletLocation(r.Context(), pod, fmt.Sprintf("/portForward/%s/%s", pod.Namespace, pod.Name), query)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tr, err := s.kubeletTransport()
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	upgrade := proxy.NewUpgradeAwareHandler(loc, tr, false, true, streamResponder{s})
	tunnel := streamproxy.NewTunnelingHandler(upgrade)
	streamproxy.NewTranslatingHandler(upgrade, tunnel, wsstream.IsWebSocketRequestWithTunnelingProtocol).ServeHTTP(w, r)
}

// streamResponder writes proxy errors (a kubelet that cannot be reached)
// as Status objects.
type streamResponder struct{ s *Server }

func (sr streamResponder) Error(w http.ResponseWriter, r *http.Request, err error) {
	sr.s.writeError(w, r, &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: err.Error()}})
}

// streamPod reads the pod a stream request names.
func (s *Server) streamPod(ctx context.Context, res *registry.Resource, info requestInfo) (*corev1.Pod, error) {
	obj, _, err := s.getObject(ctx, res, info.Namespace, info.Name)
	if err != nil {
		return nil, err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("not a pod: %T", obj))
	}
	return pod, nil
}

// podContainer is upstream's validateContainer: the named container must
// be in the pod; no name picks the only container.
func podContainer(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", pod.Name, names))
	}
	for _, n := range names {
		if n == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

// containerLogStatus answers what kubelet's validateContainerLogStatus
// would for a container that has no log yet, from the status the node
// reported, without a trip to the node.
func containerLogStatus(pod *corev1.Pod, container string, previous bool) error {
	var status *corev1.ContainerStatus
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == container {
				status = &list[i]
			}
		}
	}
	if previous {
		if status == nil || status.LastTerminationState.Terminated == nil {
			return apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod.Name))
		}
		return nil
	}
	if status != nil && (status.State.Running != nil || status.State.Terminated != nil || status.LastTerminationState.Terminated != nil) {
		return nil
	}
	reason := "ContainerCreating"
	if status != nil && status.State.Waiting != nil && status.State.Waiting.Reason != "" {
		reason = status.State.Waiting.Reason
	}
	switch reason {
	case "ErrImagePull":
		reason = "image can't be pulled"
	case "ImagePullBackOff":
		reason = "trying and failing to pull image"
	}
	return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, pod.Name, reason))
}
