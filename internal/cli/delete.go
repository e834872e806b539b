package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"

	"mini.dev/mini/internal/daemon"
	"mini.dev/mini/internal/network"
	"mini.dev/mini/internal/store"
)

// What a node leaves in the host's network besides the pod network
// (whose network.Cleanup removes the bridge mini0, the veths, the pod
// namespaces and the table mini-podnet): the overlay's VXLAN device, the
// DNS and load-balancer dummy devices, the proxy's table. These are the
// owning packages' default names; a node run with other names (tests)
// removes its own.
var (
	nodeLinks         = []string{"flannel.1", "mini-dns0", "mini-lb0"}
	nodeTables        = []string{"mini-proxy"}
	runDir            = "/run/mini"
	deleteStopTimeout = 30 * time.Second
)

func newDeleteCommand(streams Streams) *cobra.Command {
	dataDir := defaultDataDir
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Stop mini and delete the cluster: its data dir, containers, network devices and nftables tables",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDelete(cmd.Context(), streams, dataDir, yes)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir, "directory holding the cluster's state")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func runDelete(ctx context.Context, streams Streams, dataDir string, yes bool) error {
	dataDir, err := absDataDir(dataDir)
	if err != nil {
		return err
	}
	if err := requireRoot("delete"); err != nil {
		return err
	}
	if err := checkDataDir(dataDir); err != nil {
		return err
	}
	if !yes && !confirm(streams, fmt.Sprintf("Delete the cluster in %s: every object, its containers, network devices and nftables tables? [y/N] ", dataDir)) {
		return errors.New("not confirmed; nothing deleted (pass --yes to skip the question)")
	}
	flags, _ := daemon.ReadFlags(dataDir)
	if st, err := daemon.Stop(ctx, dataDir, deleteStopTimeout); err == nil {
		fmt.Fprintf(streams.Out, "stopped mini (pid %d)\n", st.PID)
	} else if !errors.Is(err, daemon.ErrNotRunning) {
		return err
	}
	var errs []error
	// The data dir's containerd, its shims (found by their socket, which
	// may lie under /run/mini) and their containers.
	paths := []string{dataDir}
	if !usesExternalRuntime(flags) {
		paths = append(paths, containerdSocket(dataDir))
	}
	if n, err := daemon.KillUsing(ctx, paths...); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		fmt.Fprintf(streams.Out, "killed %d processes\n", n)
	}
	if n, err := daemon.UnmountUnder(dataDir); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		fmt.Fprintf(streams.Out, "unmounted %d mounts\n", n)
	}
	// A server without a node made no network devices: leave the host's
	// alone (another node's may be there).
	if !slices.Contains(flags, "--disable-agent=true") {
		errs = append(errs, deleteNodeNetwork(ctx, streams.Out))
		if sock := containerdSocket(dataDir); strings.HasPrefix(sock, runDir+"/") {
			errs = append(errs, os.RemoveAll(filepath.Dir(sock)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("deleting the cluster: %w (the data dir %s is kept)", err, dataDir)
	}
	if err := os.RemoveAll(dataDir); err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "deleted %s\n", dataDir)
	if target, err := userKubeconfig(); err == nil {
		if _, err := target.Remove(contextName); err != nil {
			return fmt.Errorf("removing context %q from %s: %w", contextName, target.Path, err)
		}
	}
	return nil
}

// checkDataDir refuses to wipe a directory that mini did not make.
func checkDataDir(dir string) error {
	if dir == "/" {
		return errors.New("refusing to delete /")
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(entries) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	for _, name := range []string{store.FileName, daemon.PIDFileName, daemon.FlagsFileName, daemon.LogFileName, "kubeconfig.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s does not look like a mini data dir (no %s); not deleting it", dir, store.FileName)
}

func usesExternalRuntime(flags []string) bool {
	for _, f := range flags {
		if v, ok := strings.CutPrefix(f, "--container-runtime-endpoint="); ok && v != "" {
			return true
		}
	}
	return false
}

// confirm asks a yes/no question on the command's streams.
func confirm(streams Streams, question string) bool {
	fmt.Fprint(streams.Out, question)
	line, err := bufio.NewReader(streams.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// deleteNodeNetwork removes what a node made in the host's network.
func deleteNodeNetwork(ctx context.Context, out io.Writer) error {
	var errs []error
	podNet, err := network.New(network.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	errs = append(errs, podNet.Cleanup(ctx), podNet.Close())
	for _, name := range nodeLinks {
		link, err := netlink.LinkByName(name)
		if err != nil {
			continue // not there
		}
		if err := netlink.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", name, err))
		} else {
			fmt.Fprintf(out, "deleted network device %s\n", name)
		}
	}
	conn, err := nftables.New()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, t := range tables {
		if slices.Contains(nodeTables, t.Name) {
			conn.DelTable(t)
			if err := conn.Flush(); err != nil {
				errs = append(errs, fmt.Errorf("deleting nftables table %s: %w", t.Name, err))
			} else {
				fmt.Fprintf(out, "deleted nftables table %s\n", t.Name)
			}
		}
	}
	if _, err := daemon.UnmountUnder(runDir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
