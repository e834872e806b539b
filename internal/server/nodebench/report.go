package main

import (
	"fmt"
	"os"
	"time"

	"mini.dev/mini/internal/benchutil"
)

// The node issue's targets.
const (
	targetP50       = 300 * time.Millisecond
	targetP99       = time.Second
	targetBurst     = 15 * time.Second
	targetOverhead  = 60 << 20
	targetNodeReady = time.Second
)

func printFigures(o options, f figures) {
	seq, each := f.seq.client.Sorted(), f.burst.each.Sorted()
	overhead := f.loaded.server.RSS - f.baseline.RSS
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", benchutil.Ms(d)) }
	mib := func(m benchutil.Memory) string {
		return fmt.Sprintf("%.0f MiB (%.0f private)", benchutil.MiB(m.RSS), benchutil.MiB(m.Anon))
	}
	rows := []benchutil.Row{
		{What: "node Ready, from the server's start", Figure: benchutil.Seconds(f.nodeReadyIn),
			Target: "< 1 s", Verdict: benchutil.Verdict(f.nodeReadyIn < targetNodeReady)},
		{What: fmt.Sprintf("create to Running, %d pods one by one: p50", len(seq)), Figure: ms(seq.Percentile(50)),
			Target: "< 300 ms", Verdict: benchutil.Verdict(seq.Percentile(50) < targetP50)},
		{What: "  p99", Figure: ms(seq.Percentile(99)), Target: "< 1 s", Verdict: benchutil.Verdict(seq.Percentile(99) < targetP99)},
		{What: "  max", Figure: ms(seq.Max())},
		{What: "  node's view, mean (startedAt - created, 1 s stamps)", Figure: ms(f.seq.server.Mean())},
		{What: fmt.Sprintf("%d pods at once (%d clients), until all Running", len(each), o.clients), Figure: benchutil.Seconds(f.burst.all),
			Target: "< 15 s", Verdict: benchutil.Verdict(f.burst.all < targetBurst)},
		{What: "  each pod's create to Running: p50 / p99", Figure: ms(each.Percentile(50)) + " / " + ms(each.Percentile(99))},
		{What: fmt.Sprintf("delete %d pods, until gone / %d pods", len(seq), len(each)),
			Figure: benchutil.Seconds(f.deleteSeq) + " / " + benchutil.Seconds(f.deleteBurst)},
		{What: "server RSS, --disable-agent, idle (baseline)", Figure: mib(f.baseline)},
		{What: "server RSS, node idle", Figure: mib(f.idle.server)},
		{What: fmt.Sprintf("server RSS, %d pods Running", len(each)), Figure: mib(f.loaded.server)},
		{What: "agent overhead: the above minus the baseline", Figure: fmt.Sprintf("%.1f MiB", benchutil.MiB(overhead)),
			Target: "< 60 MiB", Verdict: benchutil.Verdict(overhead < targetOverhead)},
		{What: "containerd RSS, idle / with the pods", Figure: fmt.Sprintf("%.1f / %.1f MiB", benchutil.MiB(f.idle.containerd.RSS), benchutil.MiB(f.loaded.containerd.RSS))},
		{What: fmt.Sprintf("shims RSS, sum of %d (shared pages counted in each)", f.loaded.shimCount), Figure: mib(f.loaded.shims)},
	}
	fmt.Printf("nodebench: mini server with its node (containerd, runc), busybox `sleep 3600` pods, client-go over loopback TLS\n\n")
	benchutil.PrintTable(os.Stdout, rows)
	fmt.Println()
}
