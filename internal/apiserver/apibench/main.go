// Command apibench measures mini's API the way the API issue asks: it
// starts `mini server --disable-agent` on a fresh data dir, then drives it
// over loopback with client-go: pod creates from 32 concurrent clients, a
// LIST of 10,000 pods as JSON, watch delivery to 100 watchers, and the
// server's resident memory idle and holding 10,000 pods. It prints a table
// with the targets; `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"time"
)

type sizes struct {
	clients, pods, lists, watchers, watchEvents int
}

func main() {
	var sz sizes
	bin := flag.String("mini", "bin/mini", "the mini binary to benchmark")
	workdir := flag.String("workdir", os.TempDir(), "where the server's temporary data dir goes")
	flag.IntVar(&sz.clients, "clients", 32, "concurrent client-go clients creating pods")
	flag.IntVar(&sz.pods, "pods", 10000, "pods created (and then listed)")
	flag.IntVar(&sz.lists, "lists", 10, "full LISTs of the pods")
	flag.IntVar(&sz.watchers, "watchers", 100, "watchers of the pods")
	flag.IntVar(&sz.watchEvents, "watch-events", 500, "pods created one after the other while watched")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *bin, *workdir, sz); err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, workdir string, sz sizes) error {
	srv, err := startServer(ctx, bin, workdir)
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Fprintf(os.Stderr, "apibench: server ready in %v at %s\n", srv.readyIn.Round(time.Millisecond), srv.host)

	time.Sleep(2 * time.Second) // let start-up garbage be collected before reading idle memory
	idle := srv.rss()

	creates, err := benchCreates(ctx, srv, sz)
	if err != nil {
		return fmt.Errorf("creates: %w", err)
	}
	lists, decodedLists, err := benchLists(ctx, srv, sz)
	if err != nil {
		return fmt.Errorf("lists: %w", err)
	}
	watches, err := benchWatch(ctx, srv, sz)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	time.Sleep(2 * time.Second)
	holding := srv.rss()

	fmt.Printf("apibench: mini server --disable-agent, client-go over loopback TLS, server ready in %v\n\n", srv.readyIn.Round(time.Millisecond))
	fmt.Printf("%-38s | %10s | %9s | %9s\n", "workload", "ops/s", "p50 ms", "p99 ms")
	fmt.Println("---------------------------------------+------------+-----------+----------")
	row := func(name string, r result) {
		fmt.Printf("%-38s | %10.0f | %9.2f | %9.2f\n", name, r.rate(), ms(r.pct(50)), ms(r.pct(99)))
	}
	row(fmt.Sprintf("pod create, %d clients", sz.clients), creates)
	row(fmt.Sprintf("LIST %d pods (JSON), received", sz.pods), lists)
	row(fmt.Sprintf("LIST %d pods, decoded by client-go", sz.pods), decodedLists)
	row(fmt.Sprintf("watch delivery, %d watchers", sz.watchers), watches)
	fmt.Printf("\nRSS idle %.1f MiB (private %.1f MiB); holding %d pods %.1f MiB (private %.1f MiB)\n\n",
		mib(idle.rss), mib(idle.anon), sz.pods, mib(holding.rss), mib(holding.anon))
	check := func(ok bool, what string) {
		verdict := "MISS"
		if ok {
			verdict = "MET "
		}
		fmt.Printf("  [%s] %s\n", verdict, what)
	}
	fmt.Println("targets:")
	check(creates.rate() >= 3000 && creates.pct(99) < 50*time.Millisecond,
		fmt.Sprintf("pod creates >= 3000/s with p99 < 50 ms: %.0f/s, p99 %.1f ms", creates.rate(), ms(creates.pct(99))))
	check(lists.pct(50) < 150*time.Millisecond, fmt.Sprintf("LIST of %d pods p50 < 150 ms: %.1f ms", sz.pods, ms(lists.pct(50))))
	check(watches.pct(99) < 20*time.Millisecond, fmt.Sprintf("watch delivery p99 < 20 ms: %.2f ms", ms(watches.pct(99))))
	check(idle.rss < 40<<20, fmt.Sprintf("idle RSS < 40 MiB: %.1f MiB", mib(idle.rss)))
	check(holding.rss < 400<<20, fmt.Sprintf("RSS holding %d pods < 400 MiB: %.1f MiB", sz.pods, mib(holding.rss)))
	return nil
}

// result is one workload: ops over elapsed time and a latency per op.
type result struct {
	ops     int
	elapsed time.Duration
	lat     []time.Duration
}

func newResult(ops int, elapsed time.Duration, lat []time.Duration) result {
	slices.Sort(lat)
	return result{ops: ops, elapsed: elapsed, lat: lat}
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p/100*float64(len(r.lat))+0.5) - 1
	return r.lat[min(max(i, 0), len(r.lat)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }
