// Command storebench runs the same workloads against mini's embedded store
// and against a real etcd it starts itself, and prints them side by side with
// the store's performance targets. `make bench` runs it.
//
// Both stores write with fsync on, to the same disk, from this process: mini
// in-process (as the mini binary uses it) and etcd through its official Go
// client (as kube-apiserver uses it).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mini.dev/mini/internal/store"
)

func main() { os.Exit(run()) }

// run returns the exit code instead of exiting, so that its deferred cleanup
// (kill etcd, remove the temp dirs) runs on every path, Ctrl-C included.
func run() int {
	etcdBin := flag.String("etcd", "/usr/bin/etcd", "etcd server binary (Debian's etcd-server, 3.4)")
	workdir := flag.String("workdir", os.TempDir(), "where the temporary data dirs go (both stores, same disk)")
	var sz sizes
	flag.IntVar(&sz.seqCreates, "seq-creates", 1000, "creates by the single writer")
	flag.IntVar(&sz.writers, "writers", 64, "concurrent writers")
	flag.IntVar(&sz.creates, "creates", 20000, "creates by the concurrent writers, in total")
	flag.IntVar(&sz.readers, "readers", 8, "concurrent readers")
	flag.IntVar(&sz.gets, "gets", 20000, "gets, in total")
	flag.IntVar(&sz.listKeys, "list-keys", 10000, "keys under the listed prefix")
	flag.IntVar(&sz.lists, "lists", 50, "full lists of that prefix")
	flag.IntVar(&sz.watchers, "watchers", 100, "watchers on one prefix")
	flag.IntVar(&sz.watchEvents, "watch-events", 1000, "keys written one after the other while watched")
	flag.DurationVar(&sz.watchTimeout, "watch-timeout", 30*time.Second, "how long after the last write every watcher must have every event")
	valueSize := flag.Int("value-size", 1024, "value size in bytes (at least 8: a watch value carries its index)")
	flag.Parse()
	for _, n := range []int{sz.seqCreates, sz.writers, sz.creates, sz.readers, sz.gets, sz.listKeys, sz.lists, sz.watchers, sz.watchEvents} {
		if n <= 0 {
			return fail(errors.New("sizes must be positive"))
		}
	}
	if *valueSize < 8 {
		return fail(errors.New("-value-size must be at least 8"))
	}
	bin, err := exec.LookPath(*etcdBin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "storebench: etcd server not found at %s: run scripts/install-deps.sh (or apt-get install etcd-server)\n", *etcdBin)
		return 1
	}

	// Ctrl-C and SIGTERM cancel ctx; the workloads stop and the defers clean up.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.MkdirTemp(*workdir, "storebench-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(root) // deferred first, so it runs after etcd is dead
	etcdDir := filepath.Join(root, "etcd")
	if err := os.Mkdir(etcdDir, 0o700); err != nil {
		return fail(err)
	}
	fmt.Fprintf(os.Stderr, "storebench: starting %s in %s\n", bin, etcdDir)
	etcd, cli, err := startEtcd(ctx, bin, etcdDir)
	if err != nil {
		return fail(err)
	}
	defer etcd.stop()
	defer cli.Close()
	ctx, unguard := etcd.guard(ctx)
	defer unguard() // before etcd.stop, so its death there is no error
	version := "?"
	if st, err := cli.Status(ctx, etcd.endpoint); err == nil {
		version = st.Version
	}

	vals := newValues(*valueSize)
	s, err := store.Open(store.Config{Dir: filepath.Join(root, "mini")})
	if err != nil {
		return fail(err)
	}
	defer s.Close() // a no-op once closed below
	miniRes, err := runSuite(ctx, "mini", miniBackend{s}, sz, vals)
	if err != nil {
		return fail(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	miniRSS := procPeakRSS(os.Getpid()) // before the etcd run adds its client's share
	if err := s.Close(); err != nil {
		return fail(err)
	}
	runtime.GC() // mini's garbage should not be collected on etcd's time
	etcdRes, err := runSuite(ctx, "etcd", etcdBackend{cli}, sz, vals)
	if err != nil {
		return fail(err)
	}

	fmt.Printf("storebench: %d-byte random values, fsync on; mini in-process; etcd %s (%s) via client/v3, 1 member on 127.0.0.1; data under %s\n\n",
		*valueSize, version, bin, *workdir)
	labels := []string{wCreate1, fmt.Sprintf(wCreateN, sz.writers), fmt.Sprintf(wGet, sz.readers),
		fmt.Sprintf(wList, sz.listKeys), fmt.Sprintf(wWatch, sz.watchers), wWatchE2}
	printTable(labels, miniRes, etcdRes)
	fmt.Println()
	printTargets(labels, miniRes, etcdRes)
	fmt.Printf("\nmemory: mini heap in use %.1f MiB after its run (bench process peak RSS %.1f MiB); etcd server peak RSS %.1f MiB\n",
		mib(int64(ms.HeapInuse)), mib(miniRSS), mib(etcd.peakRSS()))
	return 0
}

// fail reports err; an interrupted run exits like a shell's Ctrl-C (130).
func fail(err error) int {
	fmt.Fprintf(os.Stderr, "storebench: %v\n", err)
	if errors.Is(err, context.Canceled) {
		return 130
	}
	return 1
}

func printTable(labels []string, mini, etcd map[string]result) {
	row := "%-20s | %10s | %8s | %8s | %10s | %8s | %8s | %9s\n"
	fmt.Printf(row, "workload", "mini ops/s", "mini p50", "mini p99", "etcd ops/s", "etcd p50", "etcd p99", "mini/etcd")
	fmt.Println(strings.Repeat("-", 20+10+8*4+10+9+7*3))
	for _, l := range labels {
		m, e := mini[l], etcd[l]
		fmt.Printf(row, l, fmt.Sprintf("%.0f", m.rate()), ms(m.pct(50)), ms(m.pct(99)),
			fmt.Sprintf("%.0f", e.rate()), ms(e.pct(50)), ms(e.pct(99)), fmt.Sprintf("%.2fx", m.rate()/e.rate()))
	}
	fmt.Println("latencies in ms, per op; list: per full list; watch: ops/s is events delivered per second summed")
	fmt.Println("over all watchers, p50/p99 from the write's commit (the earlier of its acknowledgement and its first")
	fmt.Println("receipt) to each watcher's receipt; \"write to event\" from before the write call, fsync included")
}

// printTargets checks mini against the targets of the store's issue.
func printTargets(labels []string, mini, etcd map[string]result) {
	verdict := func(ok bool) string {
		if ok {
			return "MET "
		}
		return "MISS"
	}
	cm, ce := mini[labels[1]], etcd[labels[1]]
	l, w := mini[labels[3]], mini[labels[4]]
	fmt.Println("targets (mini):")
	fmt.Printf("  [%s] %s: %.0f creates/s = %.2fx etcd's %.0f (target >= 3x)\n",
		verdict(cm.rate() >= 3*ce.rate()), labels[1], cm.rate(), cm.rate()/ce.rate(), ce.rate())
	fmt.Printf("  [%s] %s: p50 %s ms, p99 %s ms (target: under 20 ms, judged on p99)\n",
		verdict(l.pct(99) < 20*time.Millisecond), labels[3], ms(l.pct(50)), ms(l.pct(99)))
	fmt.Printf("  [%s] %s: delivery p50 %s ms, p99 %s ms (target: p99 under 5 ms; write to event p99 %s ms)\n",
		verdict(w.pct(99) < 5*time.Millisecond), labels[4], ms(w.pct(50)), ms(w.pct(99)), ms(mini[labels[5]].pct(99)))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// procPeakRSS is a process's peak resident memory (VmHWM) in bytes; 0 if
// /proc cannot tell.
func procPeakRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
