package prober

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Lifecycle hook event reasons and the postStart event text. The caller
// records them on the container, as kubelet's runtime manager does: for
// a failed postStart hook the fixed text (the hook's message may hold
// secrets, so upstream keeps it out of the event and puts it in the
// container's status instead), for a failed preStop hook RunHook's
// message.
const (
	ReasonFailedPostStartHook  = "FailedPostStartHook"
	ReasonFailedPreStopHook    = "FailedPreStopHook"
	MessagePostStartHookFailed = "PostStartHook failed"
)

// RunHook runs a postStart or preStop handler of a container and waits
// for it, as kubelet's handler runner: exec runs the command in the
// container (failing on a non-zero exit), httpGet sends the request (any
// answer counts as done; an HTTPS request answered in plain HTTP is sent
// again over HTTP, with a LifecycleHTTPFallback event), sleep waits its
// seconds. ctx bounds the hook (the caller gives preStop the grace
// period). On failure message is upstream's text for it, e.g.
// `Exec lifecycle hook ([/bin/false]) for Container "c" in Pod
// "p_ns(uid)" failed - error: command '/bin/false' exited with 1: ,
// message: ""`. Under the sim runtime (no Execer) hooks do nothing.
func (m *Manager) RunHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, containerID string, h *corev1.LifecycleHandler) (message string, err error) {
	if m.exec == nil {
		return "", nil
	}
	switch {
	case h.Exec != nil:
		out, err := m.runInContainer(ctx, containerID, h.Exec.Command, 0)
		if err != nil {
			return fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %v, message: %q",
				h.Exec.Command, c.Name, formatPod(pod), err, string(out)), err
		}
		return "", nil
	case h.HTTPGet != nil:
		if err := m.runHTTPHook(ctx, pod, c, h.HTTPGet); err != nil {
			return fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v",
				h.HTTPGet.Path, c.Name, formatPod(pod), err), err
		}
		return "", nil
	case h.Sleep != nil:
		if err := m.sleep(ctx, h.Sleep.Seconds); err != nil {
			return fmt.Sprintf("Sleep lifecycle hook (%d) for Container %q in Pod %q failed - error: %v",
				h.Sleep.Seconds, c.Name, formatPod(pod), err), err
		}
		return "", nil
	}
	err = fmt.Errorf("invalid handler: %v", h)
	return fmt.Sprintf("Cannot run handler: %v", err), err
}

func (m *Manager) runHTTPHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, a *corev1.HTTPGetAction) error {
	req, err := newHTTPGetRequest(ctx, a, c, podIP(pod), "lifecycle")
	if errors.Is(err, errNoPodIP) {
		return fmt.Errorf("failed to find networking container: %w", err)
	}
	if err != nil {
		return err
	}
	client := m.httpClient(0)
	resp, err := client.Do(req)
	discardBody(resp)
	if !isHTTPResponseError(err) {
		return err
	}
	// The hook asked for HTTPS and the server answered in plain HTTP:
	// kubelet retries over HTTP, without the credentials.
	req = req.Clone(ctx)
	req.URL.Scheme = "http"
	req.Header.Del("Authorization")
	resp, httpErr := client.Do(req)
	discardBody(resp)
	if httpErr != nil {
		return err
	}
	m.rec.Event(pod, corev1.EventTypeWarning, reasonHTTPFallback,
		fmt.Sprintf("request to HTTPS lifecycle hook %s got HTTP response, retry with HTTP succeeded", req.URL.Host))
	return nil
}

func isHTTPResponseError(err error) bool {
	var urlErr *url.Error
	return errors.As(err, &urlErr) && strings.Contains(urlErr.Err.Error(), "server gave HTTP response to HTTPS client")
}

// discardBody reads a bounded part of the body before closing it.
func discardBody(resp *http.Response) {
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxOutput))
}

func (m *Manager) sleep(ctx context.Context, seconds int64) error {
	t := m.clock.NewTimer(time.Duration(seconds) * time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return errors.New("container terminated before sleep hook finished")
	case <-t.C():
		return nil
	}
}

// formatPod is kubelet's format.Pod: name_namespace(uid).
func formatPod(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
