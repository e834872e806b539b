package benchutil

import (
	"fmt"
	"io"
	"strings"
)

// Row is one line of a benchmark's table: what was measured, the figure
// and the target for it. Verdict, when any row has one, is a
// fourth column (see Verdict).
type Row struct {
	What, Figure, Target, Verdict string
}

// PrintTable prints rows under a header, one workload a line.
func PrintTable(w io.Writer, rows []Row) {
	verdicts := false
	for _, r := range rows {
		verdicts = verdicts || r.Verdict != ""
	}
	if !verdicts {
		fmt.Fprintf(w, "%-58s | %-22s | %s\n", "workload", "measured", "target")
		fmt.Fprintf(w, "%s\n", "-----------------------------------------------------------+------------------------+----------------")
		for _, r := range rows {
			fmt.Fprintf(w, "%-58s | %-22s | %s\n", r.What, r.Figure, r.Target)
		}
		return
	}
	fmt.Fprintf(w, "%-58s | %-22s | %-16s | %s\n", "workload", "measured", "target", "")
	fmt.Fprintf(w, "%s+%s+%s+%s\n", strings.Repeat("-", 59), strings.Repeat("-", 24), strings.Repeat("-", 18), strings.Repeat("-", 6))
	for _, r := range rows {
		fmt.Fprintf(w, "%-58s | %-22s | %-16s | %s\n", r.What, r.Figure, r.Target, r.Verdict)
	}
}

// Verdict says whether a target was met: "MET" or "MISS".
func Verdict(met bool) string {
	if met {
		return "MET"
	}
	return "MISS"
}
