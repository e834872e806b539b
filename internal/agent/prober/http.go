package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"mini.dev/mini/internal/version"
)

// newProbeTransport is kubelet's probe transport: no certificate checks
// (probes target pod IPs, never names in a certificate), no proxy, no
// keep-alives (each probe is a fresh connection, as upstream) and no
// compression.
func newProbeTransport() *http.Transport {
	return &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives:   true,
		DisableCompression:  true,
		Proxy:               nil,
		DialContext:         probeDialer().DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
	}
}

// httpProbe runs an httpGet probe as kubelet's DoHTTPProbe: 200-399
// succeed (a redirect it did not follow is a warning), anything else
// fails with the status code only (the body may hold secrets), and a
// request that fails (refused, timed out) fails with its error.
func (m *Manager) httpProbe(req *http.Request, timeout time.Duration) (result, string, error) {
	client := m.httpClient(timeout)
	res, err := client.Do(req)
	if err != nil {
		return failure, err.Error(), nil
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxOutput))
	if err != nil {
		return failure, "", err
	}
	if res.StatusCode >= http.StatusOK && res.StatusCode < http.StatusBadRequest {
		if res.StatusCode >= http.StatusMultipleChoices {
			return warning, fmt.Sprintf("Probe terminated redirects, Response body: %v", string(body)), nil
		}
		return success, string(body), nil
	}
	return failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode), nil
}

// httpClient is the configured client with kubelet's per-probe timeout
// (zero: none) and redirect policy.
func (m *Manager) httpClient(timeout time.Duration) *http.Client {
	c := *m.client
	c.Timeout = timeout
	c.CheckRedirect = checkRedirect
	return &c
}

// checkRedirect follows redirects to the same host only (at most ten),
// and otherwise stops at the redirect response, as kubelet does without
// followNonLocalRedirects.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// newHTTPGetRequest builds the request of an httpGet probe or hook, as
// kubelet's NewRequestForHTTPGetAction: host defaulting to the pod IP,
// port by number or container port name, the action's headers, a
// "kube-<purpose>/<major>.<minor>" User-Agent and "Accept: */*" unless
// the headers set them (an empty Accept removes it), and a Host header
// turned into the request's host.
func newHTTPGetRequest(ctx context.Context, a *corev1.HTTPGetAction, c *corev1.Container, podIP, purpose string) (*http.Request, error) {
	scheme := strings.ToLower(string(a.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	host := a.Host
	if host == "" {
		if host = podIP; host == "" {
			return nil, errNoPodIP
		}
	}
	port, err := resolvePort(a.Port, c)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(a.Path)
	if err != nil {
		u = &url.URL{Path: a.Path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	headers := http.Header{}
	for _, h := range a.HTTPHeaders {
		headers.Add(h.Name, h.Value)
	}
	if _, ok := headers["User-Agent"]; !ok {
		headers.Set("User-Agent", userAgent(purpose))
	}
	if _, ok := headers["Accept"]; !ok {
		headers.Set("Accept", "*/*")
	} else if headers.Get("Accept") == "" {
		headers.Del("Accept")
	}
	req.Header = headers
	req.Host = headers.Get("Host")
	return req, nil
}

// userAgent is kubelet's "kube-probe/1.37" (or kube-lifecycle/...).
func userAgent(purpose string) string {
	v := version.Get()
	return fmt.Sprintf("kube-%s/%s.%s", purpose, v.Major, v.Minor)
}

// resolvePort turns a probe's port into a number: a number as is, a
// name through the container's ports, and last a number written as a
// string, as kubelet's ResolveContainerPort (whose Atoi error is the
// familiar "strconv.Atoi: parsing \"http\": invalid syntax").
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	port := -1
	switch p.Type {
	case intstr.Int:
		port = p.IntValue()
	case intstr.String:
		found := false
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				port, found = int(cp.ContainerPort), true
				break
			}
		}
		if !found {
			n, err := strconv.Atoi(p.StrVal)
			if err != nil {
				return -1, err
			}
			port = n
		}
	default:
		return -1, fmt.Errorf("intOrString had no kind: %+v", p)
	}
	if port > 0 && port < 65536 {
		return port, nil
	}
	return port, fmt.Errorf("invalid port number: %v", port)
}
