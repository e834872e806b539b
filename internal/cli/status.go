package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"mini.dev/mini/internal/daemon"
	"mini.dev/mini/internal/version"
)

// statusReport is `mini status -o json`; its field names are kept stable
// for scripts.
type statusReport struct {
	Running   bool       `json:"running"`
	PID       int        `json:"pid,omitempty"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	Uptime    string     `json:"uptime,omitempty"`
	DataDir   string     `json:"dataDir"`
	Log       string     `json:"log"`
	// Flags are the server flags it was started with.
	Flags      []string          `json:"flags,omitempty"`
	API        *apiStatus        `json:"api,omitempty"`
	Version    versionStatus     `json:"version"`
	Nodes      []nodeStatus      `json:"nodes,omitempty"`
	Components []componentHealth `json:"components,omitempty"`
}

type apiStatus struct {
	URL   string `json:"url"`
	Ready bool   `json:"ready"`
	Error string `json:"error,omitempty"`
}

type versionStatus struct {
	// Mini is this binary's version; Kubernetes the API's (empty when it
	// does not answer).
	Mini       string `json:"mini"`
	Kubernetes string `json:"kubernetes,omitempty"`
}

type nodeStatus struct {
	Name       string        `json:"name"`
	Ready      bool          `json:"ready"`
	Status     string        `json:"status"` // as kubectl get nodes shows it
	Roles      []string      `json:"roles"`
	Version    string        `json:"version"`
	InternalIP string        `json:"internalIP,omitempty"`
	Addresses  []nodeAddress `json:"addresses"`
}

type nodeAddress struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

type componentHealth struct {
	Name    string `json:"name"`
	Healthy bool   `json:"healthy"`
	Message string `json:"message,omitempty"`
}

func newStatusCommand(streams Streams) *cobra.Command {
	dataDir := defaultDataDir
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Say whether mini runs, with its API, nodes and components",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "json" {
				return fmt.Errorf("--output must be json or empty, not %q", output)
			}
			dir, err := absDataDir(dataDir)
			if err != nil {
				return err
			}
			r, err := readStatus(cmd.Context(), dir)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			printStatus(streams.Out, r)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir, "directory holding the cluster's state")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

// readStatus gathers the report: the process from the data dir's files,
// the rest from the API, each part as far as it answers.
func readStatus(ctx context.Context, dataDir string) (statusReport, error) {
	r := statusReport{DataDir: dataDir, Log: filepath.Join(dataDir, daemon.LogFileName), Version: versionStatus{Mini: version.Mini()}}
	srv, err := daemon.Find(dataDir)
	if errors.Is(err, daemon.ErrNotRunning) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	r.Running, r.PID, r.Flags = true, srv.PID, srv.Flags
	if !srv.Started.IsZero() {
		started := srv.Started.UTC().Truncate(time.Second)
		r.StartedAt, r.Uptime = &started, since(srv.Started)
	}
	client, cfg, err := adminClient(adminKubeconfig(dataDir))
	if err != nil {
		r.API = &apiStatus{Error: err.Error()}
		return r, nil
	}
	r.API = &apiStatus{URL: cfg.Host}
	if err := apiReady(ctx, client); err != nil {
		r.API.Error = err.Error()
		return r, nil
	}
	r.API.Ready = true
	if v, err := client.Discovery().ServerVersion(); err == nil {
		r.Version.Kubernetes = v.GitVersion
	}
	r.Nodes, _ = readNodes(ctx, client)
	r.Components = readComponents(ctx, client)
	return r, nil
}

func readNodes(ctx context.Context, client kubernetes.Interface) ([]nodeStatus, error) {
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var nodes []nodeStatus
	for _, n := range list.Items {
		nodes = append(nodes, toNodeStatus(&n))
	}
	return nodes, nil
}

// toNodeStatus is a node as kubectl get nodes -o wide describes it.
func toNodeStatus(n *corev1.Node) nodeStatus {
	s := nodeStatus{Name: n.Name, Status: "Unknown", Version: n.Status.NodeInfo.KubeletVersion, Roles: []string{}, Addresses: []nodeAddress{}}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			s.Ready = c.Status == corev1.ConditionTrue
			s.Status = "NotReady"
			if s.Ready {
				s.Status = "Ready"
			}
		}
	}
	if n.Spec.Unschedulable {
		s.Status += ",SchedulingDisabled"
	}
	for label := range n.Labels {
		if role, ok := strings.CutPrefix(label, "node-role.kubernetes.io/"); ok && role != "" {
			s.Roles = append(s.Roles, role)
		}
	}
	sort.Strings(s.Roles)
	for _, a := range n.Status.Addresses {
		s.Addresses = append(s.Addresses, nodeAddress{Type: string(a.Type), Address: a.Address})
		if a.Type == corev1.NodeInternalIP && s.InternalIP == "" {
			s.InternalIP = a.Address
		}
	}
	return s
}

// readComponents is the API's own readiness and what componentstatuses
// say of the others.
func readComponents(ctx context.Context, client kubernetes.Interface) []componentHealth {
	out := []componentHealth{{Name: "apiserver", Healthy: true, Message: "ok"}}
	list, err := client.CoreV1().ComponentStatuses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return out
	}
	for _, cs := range list.Items {
		h := componentHealth{Name: cs.Name}
		for _, c := range cs.Conditions {
			if c.Type == corev1.ComponentHealthy {
				h.Healthy = c.Status == corev1.ConditionTrue
				h.Message = c.Message
				if c.Error != "" {
					h.Message = c.Error
				}
			}
		}
		out = append(out, h)
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].Name < out[1+j].Name })
	return out
}

func printStatus(out io.Writer, r statusReport) {
	if !r.Running {
		fmt.Fprintf(out, "mini is not running (data dir %s)\n", r.DataDir)
		return
	}
	fmt.Fprintf(out, "mini is running (pid %d, up %s)\n", r.PID, r.Uptime)
	api := "not answering"
	if r.API != nil {
		api = r.API.URL + " (ready)"
		if !r.API.Ready {
			api = strings.TrimSpace(r.API.URL + " (not ready: " + r.API.Error + ")")
		}
	}
	fmt.Fprintf(out, "  API       %s\n", api)
	k8s := r.Version.Kubernetes
	if k8s == "" {
		k8s = "unknown"
	}
	fmt.Fprintf(out, "  version   mini %s, Kubernetes %s\n", r.Version.Mini, k8s)
	fmt.Fprintf(out, "  data dir  %s (log %s)\n", r.DataDir, r.Log)
	if len(r.Nodes) > 0 {
		fmt.Fprintln(out)
		tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
		fmt.Fprintln(tw, "NODE\tSTATUS\tROLES\tVERSION\tINTERNAL-IP")
		for _, n := range r.Nodes {
			roles := strings.Join(n.Roles, ",")
			if roles == "" {
				roles = "<none>"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Name, n.Status, roles, n.Version, n.InternalIP)
		}
		tw.Flush()
	}
	if len(r.Components) > 0 {
		fmt.Fprintln(out)
		tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
		fmt.Fprintln(tw, "COMPONENT\tSTATUS\tMESSAGE")
		for _, c := range r.Components {
			health := "Healthy"
			if !c.Healthy {
				health = "Unhealthy"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, health, c.Message)
		}
		tw.Flush()
	}
}
