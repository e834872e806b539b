package benchutil

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"mini.dev/mini/internal/daemon"
)

// What a run of a mini node leaves on the machine when it is stopped
// hard: the benchmarks and the end-to-end tests both clean up with these.

// KillProcessesUnder kills, by PID, every process whose command line
// names dir (only this run's are: dir is its own temp dir) and all their
// descendants, waits until they are gone and names them.
func KillProcessesUnder(dir string) []string {
	procs, err := Processes()
	if err != nil {
		return []string{err.Error()}
	}
	victims := map[int]string{}
	for _, p := range procs {
		if p.PID != os.Getpid() && strings.Contains(p.Cmdline, dir+"/") {
			victims[p.PID] = p.Cmdline
			for _, d := range Descendants(procs, p.PID) {
				victims[d.PID] = d.Cmdline
			}
		}
	}
	var names []string
	for pid, cmdline := range victims {
		names = append(names, fmt.Sprintf("process %d (%s)", pid, cmdline))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for pid := range victims {
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // polling a condition, not waiting for it
		}
	}
	sort.Strings(names)
	return names
}

// processAlive says whether pid runs (a zombie is gone).
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// UnmountUnder unmounts, deepest first, every mount point under dir
// (containers' rootfs, pods' tmpfs volumes) and names them.
func UnmountUnder(dir string) []string {
	points, err := daemon.MountPointsUnder(dir)
	if err != nil {
		return []string{err.Error()}
	}
	var names []string
	for _, p := range points {
		if p == dir {
			continue
		}
		names = append(names, "mount "+p)
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			names = append(names, fmt.Sprintf("unmounting %s: %v", p, err))
		}
	}
	return names
}
