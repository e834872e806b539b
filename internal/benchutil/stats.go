package benchutil

import (
	"fmt"
	"slices"
	"time"
)

// Latencies are the durations of a workload's operations.
type Latencies []time.Duration

// Sorted returns the latencies in ascending order (a copy).
func (l Latencies) Sorted() Latencies {
	s := slices.Clone(l)
	slices.Sort(s)
	return s
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of
// sorted latencies; zero for none.
func (l Latencies) Percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(p/100*float64(len(l))+0.5) - 1
	return l[min(max(i, 0), len(l)-1)]
}

// Max is the largest of sorted latencies.
func (l Latencies) Max() time.Duration { return l.Percentile(100) }

// Mean is the latencies' average.
func (l Latencies) Mean() time.Duration {
	if len(l) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range l {
		sum += d
	}
	return sum / time.Duration(len(l))
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Seconds formats d as "1.23 s".
func Seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
