package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"mini.dev/mini/internal/benchutil"
)

// figures are everything one run measured.
type figures struct {
	baselineReadyIn, nodeReadyIn time.Duration
	baseline                     benchutil.Memory
	idle, loaded                 nodeMemory
	seq                          sequential
	burst                        burst
	deleteSeq, deleteBurst       time.Duration
}

func run(ctx context.Context, o options) error {
	if err := checkHost(); err != nil {
		return err
	}
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("%s: %w (run `make build` first)", o.bin, err)
	}
	net, err := readHostNetwork()
	if err != nil {
		return err
	}
	defer net.restore()
	var f figures
	if err := measureBaseline(ctx, o, &f); err != nil {
		return fmt.Errorf("baseline server: %w", err)
	}
	if err := measureNode(ctx, o, &f); err != nil {
		return err
	}
	printFigures(o, f)
	return nil
}

// measureBaseline reads the memory of the control plane alone, idle.
func measureBaseline(ctx context.Context, o options, f *figures) error {
	dir, err := newDir(o.workdir)
	if err != nil {
		return err
	}
	srv, err := benchutil.StartServer(ctx, benchutil.ServerOptions{Bin: o.bin, Dir: dir, Flags: []string{"--cluster-cidr", o.clusterCIDR}})
	if err == nil {
		f.baselineReadyIn = srv.ReadyIn
		f.baseline = settledMemory(srv.Memory)
	}
	leftovers, stopErr := stopNode(srv, dir)
	warnLeftovers(leftovers)
	if err != nil {
		return err
	}
	return stopErr
}

// measureNode runs the pods on a server with its node, then deletes them
// and stops the server, whatever happened.
func measureNode(ctx context.Context, o options, f *figures) (err error) {
	dir, err := newDir(o.workdir)
	if err != nil {
		return err
	}
	srv, readyIn, err := startNode(ctx, o, dir)
	defer func() {
		if err != nil && srv != nil {
			fmt.Fprintf(os.Stderr, "nodebench: the server's log was %s:\n", srv.LogPath())
			printTail(srv.LogPath(), 40)
		}
		if srv != nil && err != nil {
			// Delete what is left so that shims and mounts go the
			// way a user's would; the cleanup below catches the rest.
			deleteAll(context.WithoutCancel(ctx), srv.Client, time.Minute)
		}
		leftovers, stopErr := stopNode(srv, dir)
		warnLeftovers(leftovers)
		if err == nil {
			err = stopErr
		}
	}()
	if err != nil {
		return fmt.Errorf("node server: %w", err)
	}
	f.nodeReadyIn = readyIn
	if f.idle, err = readSettledNodeMemory(srv); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "nodebench: node Ready in %v; %d pods one after another\n", readyIn.Round(time.Millisecond), o.sequential)
	if f.seq, err = runSequential(ctx, srv.Client, o.sequential); err != nil {
		return fmt.Errorf("pods one after another: %w", err)
	}
	if f.deleteSeq, err = deleteAll(ctx, srv.Client, 2*time.Minute); err != nil {
		return fmt.Errorf("deleting the pods: %w", err)
	}
	fmt.Fprintf(os.Stderr, "nodebench: %d pods at once from %d clients\n", o.burst, o.clients)
	if f.burst, err = runBurst(ctx, srv.Client, o.burst, o.clients); err != nil {
		return fmt.Errorf("pods at once: %w", err)
	}
	if f.loaded, err = readSettledNodeMemory(srv); err != nil {
		return err
	}
	if f.deleteBurst, err = deleteAll(ctx, srv.Client, 3*time.Minute); err != nil {
		return fmt.Errorf("deleting the pods: %w", err)
	}
	return nil
}

// readSettledNodeMemory reads the node's memory once the server's has
// settled.
func readSettledNodeMemory(srv *benchutil.Server) (nodeMemory, error) {
	settledMemory(srv.Memory)
	return readNodeMemory(srv)
}

func warnLeftovers(leftovers []string) {
	for _, l := range leftovers {
		fmt.Fprintf(os.Stderr, "nodebench: cleaned up after the server: %s\n", l)
	}
}

func printTail(path string, lines int) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	start := len(data)
	for n := 0; n <= lines && start > 0; {
		start--
		if data[start] == '\n' {
			n++
		}
	}
	os.Stderr.Write(data[start:])
}
