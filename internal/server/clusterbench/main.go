// Command clusterbench measures the control plane the way the
// control-plane issue asks, on `mini server --sim-nodes N` driven over
// loopback by client-go:
//
//   - scheduler throughput: 10,000 pending pods are created while the
//     scheduler is off, then the server restarts with it on and binds them
//     to 100 and to 1,000 simulated nodes (as kube-scheduler was measured:
//     a backlog of pending pods);
//   - a Deployment of 10,000 replicas on 1,000 simulated nodes, from the
//     create to every pod Running, and the server's memory then.
//
// It prints a table; `make bench` runs it. Nothing gates on its figures.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"
)

type options struct {
	bin, workdir string
	pods         int
	nodes        []int
	deployNodes  int
	replicas     int
	// serverFlags go to every server started (e.g. --pprof-address).
	serverFlags []string
}

func main() {
	var o options
	flag.StringVar(&o.bin, "mini", "bin/mini", "the mini binary to benchmark")
	flag.StringVar(&o.workdir, "workdir", os.TempDir(), "where the servers' temporary data dirs go")
	flag.IntVar(&o.pods, "pods", 10000, "pending pods the scheduler binds")
	nodes := flag.String("nodes", "100,1000", "simulated node counts for the scheduler runs")
	flag.IntVar(&o.deployNodes, "deploy-nodes", 1000, "simulated nodes for the Deployment run")
	flag.IntVar(&o.replicas, "replicas", 10000, "replicas of the Deployment run (0: no Deployment run)")
	serverFlags := flag.String("server-flags", "", "extra flags for every `mini server`, space-separated (e.g. --pprof-address=127.0.0.1:6060)")
	flag.Parse()
	o.serverFlags = strings.Fields(*serverFlags)
	for _, f := range splitInts(*nodes) {
		o.nodes = append(o.nodes, f)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "clusterbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	var rows []row
	for _, n := range o.nodes {
		r, err := benchScheduler(ctx, o, n)
		if err != nil {
			return fmt.Errorf("scheduler on %d nodes: %w", n, err)
		}
		rows = append(rows, r...)
	}
	if o.replicas > 0 {
		r, err := benchDeployment(ctx, o)
		if err != nil {
			return fmt.Errorf("deployment: %w", err)
		}
		rows = append(rows, r...)
	}
	printTable(rows)
	return nil
}

// row is one line of the table.
type row struct {
	what, figure, target string
}

func printTable(rows []row) {
	fmt.Printf("%-58s | %-22s | %s\n", "workload", "measured", "target")
	fmt.Printf("%s\n", "-----------------------------------------------------------+------------------------+----------------")
	for _, r := range rows {
		fmt.Printf("%-58s | %-22s | %s\n", r.what, r.figure, r.target)
	}
}

func splitInts(s string) []int {
	var out []int
	n, any := 0, false
	for _, c := range s + "," {
		if c >= '0' && c <= '9' {
			n, any = n*10+int(c-'0'), true
			continue
		}
		if any {
			out = append(out, n)
		}
		n, any = 0, false
	}
	return out
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
