package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mini.dev/mini/internal/daemon"
	ctrdruntime "mini.dev/mini/internal/runtime/containerd"
)

// containerGrace is how long containers get between SIGTERM and SIGKILL
// when mini stops (kubelet's default grace period is 30 s per pod; a
// laptop user stopping everything waits for less).
const containerGrace = 10 * time.Second

func newStopCommand(streams Streams) *cobra.Command {
	dataDir := defaultDataDir
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Stop the server mini start started, and its containers",
		Long: "Stop sends the server SIGTERM, waits for it to exit (killing it after --timeout), and stops the\n" +
			"containers of its node. Every object stays in the store: the next mini start runs the pods again.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStop(cmd.Context(), streams, dataDir, timeout)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir, "directory holding the cluster's state")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long the server may take to exit before it is killed")
	return cmd
}

func runStop(ctx context.Context, streams Streams, dataDir string, timeout time.Duration) error {
	dataDir, err := absDataDir(dataDir)
	if err != nil {
		return err
	}
	if _, err := daemon.Find(dataDir); errors.Is(err, daemon.ErrNotRunning) {
		fmt.Fprintf(streams.Out, "mini is not running (data dir %s)\n", dataDir)
		return nil
	} else if err != nil {
		return err
	}
	if err := requireRoot("stop"); err != nil {
		return err
	}
	st, err := daemon.Stop(ctx, dataDir, timeout)
	if err != nil {
		return err
	}
	if st.Killed {
		fmt.Fprintf(streams.Out, "mini server (pid %d) did not exit within %s and was killed; see mini logs\n", st.PID, timeout)
	}
	how, err := stopContainers(ctx, dataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "mini stopped (pid %d, %.2fs)%s\n", st.PID, st.Took.Seconds(), how)
	return nil
}

// stopContainers stops the containers of the data dir's own containerd,
// which the server leaves running when it exits (so that a restarted
// agent adopts them). A node on the user's containerd
// (--container-runtime-endpoint) is left alone: its shims serve other
// containers too.
// It returns what it did, as the end of a sentence.
func stopContainers(ctx context.Context, dataDir string) (string, error) {
	flags, _ := daemon.ReadFlags(dataDir)
	for _, f := range flags {
		if endpoint, ok := strings.CutPrefix(f, "--container-runtime-endpoint="); ok && endpoint != "" {
			return "; containers on " + endpoint + " keep running", nil
		}
	}
	n, err := daemon.StopContainers(ctx, containerdSocket(dataDir), containerGrace)
	if err != nil || n == 0 {
		return "", err
	}
	return fmt.Sprintf("; %d containers stopped", n), nil
}

// containerdSocket is the socket of the containerd the node of dataDir
// runs; the node keeps its state under <data-dir>/agent.
func containerdSocket(dataDir string) string {
	return ctrdruntime.SocketPath(filepath.Join(dataDir, "agent"))
}
