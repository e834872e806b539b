// Command netbench measures the overlay's TCP throughput the way the
// multi-node issue asks: on two hosts of the multi-node harness
// (scripts/mini-hosts), iperf3 between the bare host namespaces, then
// between two pods on different nodes, for the vxlan and the host-gw
// backend, each on a cluster of its own. iperf3 runs inside the pods'
// network namespaces (nsenter into a pod's process), so no iperf3 image is
// needed. It prints Gbit/s and the ratio to bare with the targets
// (vxlan at least 85%, host-gw at least 95%); `make bench` runs it.
// Nothing gates on its figures. It needs root, containerd, runc, iperf3.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

type options struct {
	bin, imageCache string
	seconds, runs   int
	backends        []string
}

func main() {
	var o options
	flag.StringVar(&o.bin, "mini", "bin/mini", "the mini binary to benchmark")
	flag.StringVar(&o.imageCache, "image-cache", defaultImageCache(), "where the busybox test image is built")
	flag.IntVar(&o.seconds, "seconds", 3, "length of one iperf3 run")
	flag.IntVar(&o.runs, "runs", 3, "iperf3 runs per figure (the median is reported)")
	flag.Parse()
	o.backends = []string{"vxlan", "host-gw"}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "netbench:", err)
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

// settle bounds the wait for a pod or an iperf3 server.
const settle = 2 * time.Minute
