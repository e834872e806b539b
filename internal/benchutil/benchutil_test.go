package benchutil

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(n ...int) Latencies {
		var l Latencies
		for _, v := range n {
			l = append(l, time.Duration(v)*time.Millisecond)
		}
		return l
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted on purpose
	}
	for _, tc := range []struct {
		name string
		l    Latencies
		p    float64
		want time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"max of 100", ms(hundred...), 100, 100 * time.Millisecond},
		{"p99 of 50 is the max", ms(hundred[50:]...), 99, 50 * time.Millisecond},
		{"p0 is the min", ms(3, 1, 2), 0, 1 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.l.Sorted().Percentile(tc.p); got != tc.want {
				t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
	if got := ms(1, 2, 6).Mean(); got != 3*time.Millisecond {
		t.Errorf("Mean = %v, want 3ms", got)
	}
}

func TestReadMemoryOfThisProcess(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Anon <= 0 || m.Anon > m.RSS {
		t.Errorf("memory of this process: %+v, want 0 < Anon <= RSS", m)
	}
	if _, err := ReadMemory(-1); err == nil {
		t.Error("ReadMemory(-1) succeeded")
	}
}

func TestProcessesAndDescendants(t *testing.T) {
	// sh -> sleep: the child's descendants hold the grandchild.
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Skip("no sh:", err)
	}
	t.Cleanup(func() {
		procs, _ := Processes()
		for _, p := range Descendants(procs, cmd.Process.Pid) {
			syscall.Kill(p.PID, syscall.SIGKILL)
		}
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		procs, err := Processes()
		if err != nil {
			t.Fatal(err)
		}
		self := false
		for _, p := range procs {
			if p.PID == os.Getpid() {
				self = p.PPID == os.Getppid() && strings.Contains(p.Cmdline, os.Args[0])
			}
		}
		if !self {
			t.Fatalf("this process is not listed with its parent and command line")
		}
		d := Descendants(procs, cmd.Process.Pid)
		if len(d) == 1 && d[0].Comm == "sleep" && d[0].Cmdline == "sleep 30" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("descendants of sh: %+v, want one sleep", d)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not waiting for it
	}
}

func TestPrintTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows []Row
		want []string
	}{
		{"three columns", []Row{{What: "a", Figure: "1 s", Target: "< 2 s"}},
			[]string{"workload", "a" + strings.Repeat(" ", 57) + " | 1 s" + strings.Repeat(" ", 19) + " | < 2 s"}},
		{"with verdicts", []Row{{What: "a", Figure: "1 s", Target: "< 2 s", Verdict: Verdict(true)}, {What: "b", Verdict: Verdict(false)}},
			[]string{"| MET", "| MISS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			PrintTable(&b, tc.rows)
			lines := strings.Split(strings.TrimSpace(b.String()), "\n")
			if len(lines) != 2+len(tc.rows) {
				t.Fatalf("%d lines, want header, rule and %d rows:\n%s", len(lines), len(tc.rows), b.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("table lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
