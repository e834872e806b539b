package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one entry of /proc.
type process struct {
	PID, PPID int
	Args      []string
}

// processes lists the machine's processes (those that vanish while
// being read are skipped).
func processes() ([]process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, err := parentOf(pid)
		if err != nil {
			continue
		}
		args, _ := cmdline(pid)
		out = append(out, process{PID: pid, PPID: ppid, Args: args})
	}
	return out, nil
}

func parentOf(pid int) (int, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	return strconv.Atoi(fields[1])
}

func cmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}

// descendants are the children of pid, theirs, and so on.
func descendants(procs []process, pid int) []int {
	children := map[int][]int{}
	for _, p := range procs {
		children[p.PPID] = append(children[p.PPID], p.PID)
	}
	var out []int
	queue := children[pid]
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		queue = append(queue, children[p]...)
	}
	return out
}

// StopContainers stops the containers of the containerd listening on
// socket after that containerd is gone: each shim's container processes
// get SIGTERM, then SIGKILL once grace has passed, then the shims are
// killed. That is what a host shutdown does to them; the next start's
// containerd cleans up after the dead shims and reports the containers
// exited, and the agent starts them again by their restart policy. It
// returns how many containers it stopped.
func StopContainers(ctx context.Context, socket string, grace time.Duration) (int, error) {
	procs, err := processes()
	if err != nil {
		return 0, err
	}
	var shims, inits, all []int
	children := map[int][]int{}
	for _, p := range procs {
		children[p.PPID] = append(children[p.PPID], p.PID)
	}
	for _, p := range procs {
		if isShimOf(p.Args, socket) {
			shims = append(shims, p.PID)
			inits = append(inits, children[p.PID]...)
			all = append(all, descendants(procs, p.PID)...)
		}
	}
	for _, pid := range inits {
		_ = signal(pid, syscall.SIGTERM)
	}
	if !waitGone(ctx, inits, grace) {
		for _, pid := range all {
			_ = signal(pid, syscall.SIGKILL)
		}
	}
	for _, pid := range shims {
		_ = signal(pid, syscall.SIGKILL)
	}
	if !waitGone(ctx, append(all, shims...), 10*time.Second) {
		return len(inits), fmt.Errorf("containers of %s still run after SIGKILL", socket)
	}
	return len(inits), nil
}

// isShimOf says whether args are those of a containerd shim serving the
// containerd at socket ("containerd-shim-runc-v2 -namespace N -id ID
// -address SOCKET").
func isShimOf(args []string, socket string) bool {
	if len(args) == 0 || !strings.Contains(args[0], "containerd-shim") {
		return false
	}
	for i, a := range args {
		if a == "-address" && i+1 < len(args) && args[i+1] == socket {
			return true
		}
	}
	return false
}

// KillUsing kills, with SIGKILL, every process (but this one) whose
// command line mentions any of the given paths, and their descendants:
// a data dir's containerd, shims and containers. It waits until they are
// gone and returns how many there were.
func KillUsing(ctx context.Context, paths ...string) (int, error) {
	procs, err := processes()
	if err != nil {
		return 0, err
	}
	victims := map[int]bool{}
	for _, p := range procs {
		if p.PID == os.Getpid() || !mentions(p.Args, paths) {
			continue
		}
		victims[p.PID] = true
		for _, d := range descendants(procs, p.PID) {
			victims[d] = true
		}
	}
	delete(victims, os.Getpid())
	var pids []int
	for pid := range victims {
		pids = append(pids, pid)
		_ = signal(pid, syscall.SIGKILL)
	}
	if !waitGone(ctx, pids, 10*time.Second) {
		return len(pids), fmt.Errorf("processes using %s still run after SIGKILL", strings.Join(paths, ", "))
	}
	return len(pids), nil
}

// mentions says whether an argument, or the value of a --flag=value
// argument, is one of paths or lies under one.
func mentions(args, paths []string) bool {
	for _, a := range args {
		if _, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "-") {
			a = v
		}
		for _, p := range paths {
			if a == p || strings.HasPrefix(a, p+"/") {
				return true
			}
		}
	}
	return false
}
