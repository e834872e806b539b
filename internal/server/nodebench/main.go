// Command nodebench measures the real node the way the node issue asks,
// on `mini server` with its agent on containerd, driven over loopback by
// client-go:
//
//   - create-to-Running of 50 busybox pods one after another (image
//     present), from the create request to the watch event showing the
//     container running: p50, p99, max;
//   - 100 pods created at once from 16 clients: until all run;
//   - memory: the server with --disable-agent (idle) as the baseline, the
//     server with its node idle and with 100 pods, containerd and the
//     shims apart.
//
// It needs root, containerd and runc, and no other mini node with pods on
// this machine (the bridge mini0 is shared). It prints a table with the
// issue's targets; `make bench` runs it. Nothing gates on its figures.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

type options struct {
	bin, workdir, imageCache   string
	clusterCIDR, pprofAddress  string
	nodeIP                     string
	sequential, burst, clients int
}

func main() {
	var o options
	flag.StringVar(&o.bin, "mini", "bin/mini", "the mini binary to benchmark")
	flag.StringVar(&o.workdir, "workdir", "/tmp", "where the servers' temporary dirs go (keep it short: containerd's socket lives there)")
	flag.StringVar(&o.imageCache, "image-cache", defaultImageCache(), "where the busybox test image is built")
	flag.StringVar(&o.clusterCIDR, "cluster-cidr", "10.240.0.0/16", "the server's cluster CIDR, apart from other servers' on this machine")
	flag.StringVar(&o.pprofAddress, "pprof-address", "", "serve the node server's Go profiles here (e.g. 127.0.0.1:6060)")
	flag.StringVar(&o.nodeIP, "node-ip", "", "the node's InternalIP (default: the server's, the default route's source)")
	flag.IntVar(&o.sequential, "pods", 50, "pods created one after another")
	flag.IntVar(&o.burst, "burst", 100, "pods created at once")
	flag.IntVar(&o.clients, "clients", 16, "concurrent clients creating the burst")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "nodebench:", err)
		os.Exit(1)
	}
}

// defaultImageCache is where the node tests build their images too.
func defaultImageCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "mini", "test-images")
}
