package nodetest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// cleanupLeftovers removes what a stopped node left on the machine and
// says what, beyond the bridge a node keeps by design, should have gone
// with its pods: processes started under dir (containerd, shims) and
// their children (containers), mounts under dir, host-side veths on the
// bridge.
func cleanupLeftovers(dir, bridge, netnsDir string) []string {
	var leaks []string
	leaks = append(leaks, killProcessesUnder(dir)...)
	leaks = append(leaks, vethsOn(bridge)...)
	if link, err := netlink.LinkByName(bridge); err == nil {
		netlink.LinkDel(link)
	}
	// A node on its own bridge has its own table (server.NodeConfig).
	if err := deleteNFTable("mini-podnet-" + bridge); err != nil {
		leaks = append(leaks, "nftables table: "+err.Error())
	}
	for _, m := range unmountUnder(dir) {
		// The namespace directory is itself a mount point (as `ip netns`
		// makes it), kept like the bridge; namespaces inside it are not.
		if m != "mount "+netnsDir {
			leaks = append(leaks, m)
		}
	}
	return leaks
}

// killProcessesUnder kills, by PID, every process whose command line
// names dir (only this test run's processes do: dir is its own temp dir)
// and every descendant of those, and reports them.
func killProcessesUnder(dir string) []string {
	procs, err := readProcs()
	if err != nil {
		return []string{err.Error()}
	}
	children := map[int][]int{}
	for pid, p := range procs {
		children[p.ppid] = append(children[p.ppid], pid)
	}
	var roots []int
	for pid, p := range procs {
		if pid != os.Getpid() && strings.Contains(p.cmdline, dir+"/") {
			roots = append(roots, pid)
		}
	}
	victims := map[int]bool{}
	var walk func(int)
	walk = func(pid int) {
		if victims[pid] {
			return
		}
		victims[pid] = true
		for _, c := range children[pid] {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	var leaks []string
	for pid := range victims {
		leaks = append(leaks, fmt.Sprintf("process %d (%s)", pid, procs[pid].cmdline))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for pid := range victims {
		for processExists(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // polling a condition, not waiting for it
		}
	}
	sort.Strings(leaks)
	return leaks
}

type procInfo struct {
	ppid    int
	cmdline string
}

func readProcs() (map[int]procInfo, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	procs := map[int]procInfo{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		procs[pid] = procInfo{ppid: ppid, cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))}
	}
	return procs, nil
}

// processExists reports whether pid is alive (a zombie counts as gone).
func processExists(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// vethsOn reports links still enslaved to the bridge and deletes them.
func vethsOn(bridge string) []string {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil
	}
	links, err := netlink.LinkList()
	if err != nil {
		return []string{err.Error()}
	}
	var leaks []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			leaks = append(leaks, "link "+l.Attrs().Name+" on bridge "+bridge)
			netlink.LinkDel(l)
		}
	}
	return leaks
}

// unmountUnder unmounts, deepest first, every mount point under dir.
func unmountUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountPoint(fields[4])
		if strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var leaks []string
	for _, p := range points {
		leaks = append(leaks, "mount "+p)
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			leaks = append(leaks, fmt.Sprintf("unmounting %s: %v", p, err))
		}
	}
	return leaks
}

// unescapeMountPoint undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPoint(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// deleteNFTable deletes an ip-family nftables table if it exists.
func deleteNFTable(name string) error {
	conn, err := nftables.New()
	if err != nil {
		return err
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if t.Name == name {
			conn.DelTable(t)
			return conn.Flush()
		}
	}
	return nil
}
