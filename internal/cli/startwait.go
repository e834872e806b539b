package cli

// How `mini start` follows a server coming up: each step is read from
// where it shows first (the store from the server's log, the API from
// its fresh kubeconfig and /readyz, the node from its Ready condition
// with a heartbeat from this run, DNS from an answer for the kubernetes
// Service at the cluster DNS address, the proxy from its "synced" log
// line), printed with its time as it completes, with a spinner on a
// terminal.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"mini.dev/mini/internal/daemon"
)

// startWait waits for a launched server to be ready.
type startWait struct {
	dataDir   string
	nodeName  string // "" without a node
	timeout   time.Duration
	progress  *progress
	launched  time.Time
	logOffset int64
	exited    <-chan struct{} // closed if the server exits
	exitErr   func() error    // its exit status, when known
	apiURL    string          // set once the API answers
	// dns, when set, is the cluster DNS to ask once the node is Ready;
	// proxy says whether to wait for the node's service proxy.
	dns   *dnsProbe
	proxy bool
}

// componentGrace is how long start waits for DNS and the proxy once
// the node is Ready.
const componentGrace = 30 * time.Second

// The server's log lines that mark steps.
var (
	storeReady  = regexp.MustCompile(`msg="store ready".* revision=(\d+)`)
	proxySynced = regexp.MustCompile(`msg="service proxy synced"`)
)

func (w *startWait) run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var (
		storeDone, apiDone, nodeDone bool
		dnsDone, proxyDone           = w.dns == nil, !w.proxy
		proxySeen                    time.Duration // when the log said so; 0 = not yet
		nodeAt                       time.Duration // when the node was done
		logPos                       = w.logOffset
		logBuf                       string
		client                       *kubernetes.Clientset
		dnsAnswered                  <-chan time.Duration
	)
	for {
		elapsed := time.Since(w.launched)
		if !storeDone || (!proxyDone && proxySeen == 0) {
			var chunk string
			chunk, logPos = readFrom(w.dataDir, logPos)
			logBuf += chunk
			if m := storeReady.FindStringSubmatch(logBuf); m != nil && !storeDone {
				storeDone = true
				w.progress.done("store", "revision "+m[1], elapsed)
			}
			if !proxyDone && proxySeen == 0 && proxySynced.MatchString(logBuf) {
				proxySeen = elapsed
			}
			if i := strings.LastIndexByte(logBuf, '\n'); i >= 0 {
				logBuf = logBuf[i+1:]
			}
		}
		if !apiDone {
			if c, url, ok := w.apiAnswers(ctx); ok {
				// An API that answers has a store: the log line may
				// have been missed (another format, a rotated log).
				if !storeDone {
					storeDone = true
					w.progress.done("store", "", elapsed)
				}
				apiDone, client, w.apiURL = true, c, url
				w.progress.done("API", url, elapsed)
			}
		}
		if apiDone && !nodeDone {
			if w.nodeName == "" {
				nodeDone = true
			} else if w.nodeReady(ctx, client) {
				nodeDone = true
				w.progress.done("node "+w.nodeName, "Ready", elapsed)
			}
			nodeAt = elapsed
		}
		// DNS and the proxy are the node's: their steps follow its.
		if nodeDone && !dnsDone {
			if dnsAnswered == nil {
				dnsAnswered = w.dns.await(ctx, w.launched)
			}
			select {
			case took := <-dnsAnswered:
				dnsDone = true
				w.progress.done("DNS", w.dns.host()+" answers kubernetes.default", took)
			default:
			}
		}
		if nodeDone && dnsDone && !proxyDone && proxySeen > 0 {
			proxyDone = true
			w.progress.done("proxy", "Services programmed", proxySeen)
		}
		// A cluster whose node is Ready is usable: DNS or a proxy that
		// lags (a firewall in the way of the host's query, a failing
		// sync) is reported, not waited for until the timeout.
		// The grace ends at the timeout too: a node Ready late in it
		// still makes a started cluster.
		if nodeDone && (!dnsDone || !proxyDone) && (elapsed-nodeAt > componentGrace || time.Until(deadline) < 50*time.Millisecond) {
			w.progress.clear()
			if !dnsDone {
				w.progress.note("DNS", fmt.Sprintf("%s at %s not answering after %s (see mini logs)", w.dns.name, w.dns.server, (elapsed-nodeAt).Round(time.Second)))
			}
			if !proxyDone {
				w.progress.note("proxy", fmt.Sprintf("not synced after %s (see mini logs)", (elapsed-nodeAt).Round(time.Second)))
			}
			dnsDone, proxyDone = true, true
		}
		if storeDone && apiDone && nodeDone && dnsDone && proxyDone {
			w.progress.clear()
			w.systemPods(ctx, client)
			return nil
		}
		switch {
		case !apiDone:
			w.progress.spin("waiting for the API", elapsed)
		case !nodeDone:
			w.progress.spin("waiting for node "+w.nodeName+" to be Ready", elapsed)
		case !dnsDone:
			w.progress.spin("waiting for cluster DNS to answer", elapsed)
		default:
			w.progress.spin("waiting for the service proxy", elapsed)
		}
		select {
		case <-w.exited:
			w.progress.clear()
			return w.failed()
		case <-ctx.Done():
			w.progress.clear()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the cluster was not ready within %s; it keeps starting in the background (see mini logs, or mini stop)", w.timeout)
			}
			return errors.New("interrupted; mini keeps starting in the background (see mini status, mini logs -f, mini stop)")
		case <-tick.C:
		}
	}
}

// apiAnswers says whether the kubeconfig this run of the server wrote
// (it does so once its API listens) leads to an API whose /readyz is ok.
func (w *startWait) apiAnswers(ctx context.Context) (*kubernetes.Clientset, string, bool) {
	path := adminKubeconfig(w.dataDir)
	st, err := os.Stat(path)
	if err != nil || st.ModTime().Before(w.launched) {
		return nil, "", false
	}
	client, cfg, err := adminClient(path)
	if err != nil || apiReady(ctx, client) != nil {
		return nil, "", false
	}
	return client, cfg.Host, true
}

// nodeReady says whether the node is Ready by a heartbeat of this run:
// the Node in the store still says Ready from before a stop.
func (w *startWait) nodeReady(ctx context.Context, client kubernetes.Interface) bool {
	node, err := client.CoreV1().Nodes().Get(ctx, w.nodeName, metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue && !c.LastHeartbeatTime.Time.Before(w.launched.Truncate(time.Second))
		}
	}
	return false
}

// systemPods reports kube-system's pods, if there are any, without
// waiting for them.
func (w *startWait) systemPods(ctx context.Context, client kubernetes.Interface) {
	pods, err := client.CoreV1().Pods(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		return
	}
	ready := 0
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	w.progress.note("kube-system", fmt.Sprintf("%d of %d pods ready", ready, len(pods.Items)))
}

// failed reports a server that exited while starting, with the end of
// its log.
func (w *startWait) failed() error {
	lines, _ := daemon.LogTail(w.dataDir, w.logOffset, 15)
	fmt.Fprintf(w.progress.out, "mini server exited while starting; the end of %s:\n", daemon.LogFileName)
	for _, l := range lines {
		fmt.Fprintf(w.progress.out, "  %s\n", l)
	}
	status := "it exited"
	if w.exitErr != nil && w.exitErr() != nil {
		status = w.exitErr().Error()
	}
	// The pid file names a process that is gone.
	_ = os.Remove(w.dataDir + "/" + daemon.PIDFileName)
	return fmt.Errorf("the server did not start (%s); see %s/%s", status, w.dataDir, daemon.LogFileName)
}

// readFrom returns what the log holds from pos on, and the new position.
func readFrom(dataDir string, pos int64) (string, int64) {
	f, err := os.Open(dataDir + "/" + daemon.LogFileName)
	if err != nil {
		return "", pos
	}
	defer f.Close()
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		return "", pos
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b), pos + int64(len(b))
}

// progress prints start's steps; on a terminal a spinner line shows what
// is awaited.
type progress struct {
	out     io.Writer
	tty     bool
	frame   int
	spinned bool
}

func newProgress(out io.Writer) *progress {
	p := &progress{out: out}
	if f, ok := out.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		p.tty = err == nil
	}
	return p
}

func (p *progress) done(step, detail string, took time.Duration) {
	p.clear()
	fmt.Fprintf(p.out, "  ✓ %-16s %-38s %6.2fs\n", step, detail, took.Seconds())
}

func (p *progress) note(step, detail string) {
	p.clear()
	fmt.Fprintf(p.out, "  · %-16s %s\n", step, detail)
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (p *progress) spin(what string, elapsed time.Duration) {
	if !p.tty {
		return
	}
	p.frame++
	fmt.Fprintf(p.out, "\r\033[K  %s %s %.1fs", spinnerFrames[p.frame/5%len(spinnerFrames)], what, elapsed.Seconds())
	p.spinned = true
}

func (p *progress) clear() {
	if p.spinned {
		fmt.Fprint(p.out, "\r\033[K")
		p.spinned = false
	}
}
