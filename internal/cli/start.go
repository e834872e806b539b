package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"

	"mini.dev/mini/internal/daemon"
	"mini.dev/mini/internal/kubeconfig"
	"mini.dev/mini/internal/noderole"
)

// contextName is the context, cluster and user mini adds to the user's
// kubeconfig.
const contextName = "mini"

func newStartCommand(streams Streams) *cobra.Command {
	// start takes every server flag: it passes them on.
	srv := newServerCommand(streams)
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "start [server flags]",
		Short: "Start mini server in the background and wait until the cluster is ready",
		Long: "Start runs `mini server` with the given flags in the background (its log goes to <data-dir>/mini.log),\n" +
			"waits until the API answers and this machine's node is Ready, and makes the cluster the current\n" +
			"context (\"mini\") of your kubeconfig ($KUBECONFIG's first file or ~/.kube/config).\n" +
			"Without flags (other than --data-dir) it starts the cluster with the flags of its last start.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The parsed set: only it knows which flags were given.
			return runStart(cmd.Context(), streams, cmd.Flags(), timeout)
		},
	}
	cmd.Flags().AddFlagSet(srv.Flags())
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the cluster to be ready")
	return cmd
}

// startFlags are the server flags start reads itself.
type startFlags struct {
	dataDir, bindAddress, nodeName, runtimeEndpoint string
	port, kubeletPort                               int
	disableAgent                                    bool
	// The node's network, for the kernel check and the DNS and proxy
	// steps of the progress.
	flannelBackend, clusterDNS, clusterDomain string
	disableProxy                              bool
	// server are the flags given, as the server is passed them
	// ("--name=value", sorted, --data-dir always there and absolute);
	// explicit says whether any besides --data-dir was given.
	server   []string
	explicit bool
}

func readStartFlags(fs *pflag.FlagSet) (startFlags, error) {
	var f startFlags
	var errs []error
	get := func(s string, err error) string { errs = append(errs, err); return s }
	getInt := func(i int, err error) int { errs = append(errs, err); return i }
	f.dataDir = get(fs.GetString("data-dir"))
	f.bindAddress = get(fs.GetString("bind-address"))
	f.nodeName = get(fs.GetString("node-name"))
	f.runtimeEndpoint = get(fs.GetString("container-runtime-endpoint"))
	f.port = getInt(fs.GetInt("https-listen-port"))
	f.kubeletPort = getInt(fs.GetInt("kubelet-port"))
	f.flannelBackend = get(fs.GetString("flannel-backend"))
	f.clusterDNS = get(fs.GetString("cluster-dns"))
	f.clusterDomain = get(fs.GetString("cluster-domain"))
	disableProxy, err := fs.GetBool("disable-kube-proxy")
	f.disableProxy = disableProxy
	errs = append(errs, err)
	disable, err := fs.GetBool("disable-agent")
	f.disableAgent = disable
	if err := errors.Join(append(errs, err)...); err != nil {
		return f, err
	}
	if f.dataDir, err = absDataDir(f.dataDir); err != nil {
		return f, err
	}
	f.server = []string{"--data-dir=" + f.dataDir}
	fs.Visit(func(fl *pflag.Flag) {
		switch fl.Name {
		case "data-dir", "timeout":
			return
		}
		f.explicit = true
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				f.server = append(f.server, "--"+fl.Name+"="+v)
			}
			return
		}
		f.server = append(f.server, "--"+fl.Name+"="+fl.Value.String())
	})
	sort.Strings(f.server)
	return f, nil
}

// flagDiff describes how the flags a server runs with differ from those
// asked for, one "--name: running X, asked Y" per flag ("default" for a
// flag not given).
func flagDiff(running, asked []string) []string {
	values := func(flags []string) map[string][]string {
		m := map[string][]string{}
		for _, f := range flags {
			name, value, _ := strings.Cut(f, "=")
			m[name] = append(m[name], value)
		}
		return m
	}
	r, a := values(running), values(asked)
	show := func(v []string) string {
		if v == nil {
			return "default"
		}
		return strings.Join(v, ",")
	}
	var diff []string
	for _, name := range unionKeys(r, a) {
		if show(r[name]) != show(a[name]) {
			diff = append(diff, fmt.Sprintf("%s: running %s, asked %s", name, show(r[name]), show(a[name])))
		}
	}
	return diff
}

func unionKeys(ms ...map[string][]string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

func runStart(ctx context.Context, streams Streams, fs *pflag.FlagSet, timeout time.Duration) error {
	f, err := readStartFlags(fs)
	if err != nil {
		return err
	}
	reused := false
	// A bare start starts the cluster as it was last started.
	if recorded, err := daemon.ReadFlags(f.dataDir); err == nil && !f.explicit && len(recorded) > 1 {
		if err := fs.Parse(recorded); err != nil {
			return fmt.Errorf("%s/%s: %w", f.dataDir, daemon.FlagsFileName, err)
		}
		if f, err = readStartFlags(fs); err != nil {
			return err
		}
		reused = true
	}
	if !f.disableAgent {
		if err := requireRoot("start"); err != nil {
			return err
		}
	}
	w := startWait{dataDir: f.dataDir, timeout: timeout, progress: newProgress(streams.Out)}
	if !f.disableAgent {
		// As the node names itself (lower-cased host name).
		if w.nodeName, err = noderole.Name(f.nodeName); err != nil {
			return err
		}
		w.dns = newDNSProbe(f.clusterDNS, f.clusterDomain)
		w.proxy = !f.disableProxy
	}
	srv, err := daemon.Find(f.dataDir)
	switch {
	case err == nil:
		return startWhenRunning(ctx, streams, f, srv, w)
	case !errors.Is(err, daemon.ErrNotRunning):
		return err
	}

	bind := f.bindAddress
	if bind == "0.0.0.0" {
		bind = ""
	}
	if err := checkPortFree(bind, f.port, "--https-listen-port"); err != nil {
		return err
	}
	var node *noderole.NetworkConfig
	if !f.disableAgent {
		if err := checkPortFree("", f.kubeletPort, "--kubelet-port"); err != nil {
			return err
		}
		if f.runtimeEndpoint == "" {
			if err := checkRuntimeInstalled(); err != nil {
				return err
			}
		}
		node = &noderole.NetworkConfig{FlannelBackend: f.flannelBackend, DisableProxy: f.disableProxy}
	}
	if err := preflight(f.dataDir, node, false); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "Starting mini (data dir %s, log %s)\n", f.dataDir, daemon.LogFileName)
	if reused {
		fmt.Fprintf(streams.Out, "  flags of the last start: %s\n", strings.Join(f.server, " "))
	}
	p, err := daemon.Launch(daemon.Config{DataDir: f.dataDir, Executable: exe, Args: append([]string{"server"}, f.server...), Flags: f.server})
	if err != nil {
		return err
	}
	w.launched, w.logOffset, w.exited, w.exitErr = p.Started, p.LogOffset, p.Exited(), p.Err
	w.progress.done("server", "pid "+strconv.Itoa(p.PID), time.Since(p.Started))
	if err := w.run(ctx); err != nil {
		return err
	}
	return finishStart(streams, f, w.apiURL, time.Since(p.Started))
}

// startWhenRunning answers a start for a data dir whose server runs: the
// same flags (or none) say so and succeed; others are refused. A server
// still starting is waited for.
func startWhenRunning(ctx context.Context, streams Streams, f startFlags, srv daemon.Server, w startWait) error {
	if f.explicit && srv.Flags != nil {
		if diff := flagDiff(srv.Flags, f.server); len(diff) > 0 {
			return fmt.Errorf("already running (pid %d) with different flags (%s); run `mini stop` first to start it with new ones",
				srv.PID, strings.Join(diff, "; "))
		}
	}
	client, _, err := adminClient(adminKubeconfig(f.dataDir))
	if err == nil {
		err = apiReady(ctx, client)
	}
	if err != nil {
		fmt.Fprintf(streams.Out, "mini is already starting (pid %d); waiting for it\n", srv.PID)
		w.launched = srv.Started
		w.exited = pidGone(ctx, srv.PID)
		if err := w.run(ctx); err != nil {
			return err
		}
	}
	server := ""
	if cfg, err := clientcmd.LoadFromFile(adminKubeconfig(f.dataDir)); err == nil {
		if c := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]; c != nil {
			server = c.Server
		}
	}
	fmt.Fprintf(streams.Out, "mini is already running (pid %d, up %s, API %s)\n", srv.PID, since(srv.Started), server)
	_, err = mergeKubeconfig(streams, f.dataDir)
	return err
}

// pidGone is closed when pid stops being a server (polled: it is not our
// child).
func pidGone(ctx context.Context, pid int) <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for daemon.IsServer(pid) {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		close(gone)
	}()
	return gone
}

// finishStart merges the kubeconfig and says how to use the cluster.
func finishStart(streams Streams, f startFlags, apiURL string, took time.Duration) error {
	target, err := mergeKubeconfig(streams, f.dataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "\nmini is ready in %.2fs: API %s, data dir %s\n\n", took.Seconds(), apiURL, f.dataDir)
	fmt.Fprintf(streams.Out, "  mini kubectl get nodes\n")
	fmt.Fprintf(streams.Out, "  kubectl get pods -A          # context %q is current in %s\n\n", contextName, target)
	fmt.Fprintf(streams.Out, "mini status | mini logs -f | mini stop | mini delete\n")
	return nil
}

// mergeKubeconfig puts the admin kubeconfig into the user's as context
// "mini" and returns the file's path.
func mergeKubeconfig(streams Streams, dataDir string) (string, error) {
	target, err := userKubeconfig()
	if err != nil {
		return "", err
	}
	backup, err := target.Merge(adminKubeconfig(dataDir), contextName)
	if err != nil {
		return "", fmt.Errorf("merging the kubeconfig: %w", err)
	}
	if backup != "" {
		fmt.Fprintf(streams.Out, "kubeconfig: context %q merged into %s (previous file kept as %s)\n", contextName, target.Path, backup)
	}
	return target.Path, nil
}

// userKubeconfig is the kubeconfig of the user who ran mini: under sudo,
// the invoking user's (owned by them), else $KUBECONFIG's first file or
// ~/.kube/config.
func userKubeconfig() (kubeconfig.File, error) {
	env := os.Getenv("KUBECONFIG")
	if os.Geteuid() == 0 {
		if uid, gid := os.Getenv("SUDO_UID"), os.Getenv("SUDO_GID"); uid != "" && uid != "0" && gid != "" {
			u, err := user.LookupId(uid)
			if err == nil {
				owner := &kubeconfig.Owner{}
				owner.UID, _ = strconv.Atoi(uid)
				owner.GID, _ = strconv.Atoi(gid)
				return kubeconfig.File{Path: kubeconfig.DefaultPath(env, u.HomeDir), Owner: owner}, nil
			}
		}
	}
	home, err := os.UserHomeDir()
	if err != nil && env == "" {
		return kubeconfig.File{}, fmt.Errorf("no home directory for ~/.kube/config (set KUBECONFIG): %w", err)
	}
	return kubeconfig.File{Path: kubeconfig.DefaultPath(env, home)}, nil
}

// since is a duration rounded for people.
func since(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	if d := time.Since(t); d < time.Hour {
		return d.Round(time.Second).String()
	} else {
		return d.Round(time.Minute).String()
	}
}
