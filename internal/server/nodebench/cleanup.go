package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"mini.dev/mini/internal/benchutil"
)

// The pod network's names: `mini server` has no flags for them yet, so
// the benchmark's node shares them with any other node of this machine.
const (
	podBridge   = "mini0"
	podNetTable = "mini-podnet"
)

// hostNetwork is what the machine's pod network looked like before the
// benchmark, so that the end removes only what the benchmark made.
type hostNetwork struct {
	bridge, table bool
}

// readHostNetwork refuses to run beside another node that has pods on
// the shared bridge: the two would share its addresses.
func readHostNetwork() (hostNetwork, error) {
	var h hostNetwork
	if br, err := netlink.LinkByName(podBridge); err == nil {
		h.bridge = true
		if ports := linksOn(br); len(ports) > 0 {
			return h, fmt.Errorf("bridge %s has %d pods' links (%s): another mini node runs pods on this machine; stop it first",
				podBridge, len(ports), strings.Join(ports, ", "))
		}
	}
	tables, err := listTables()
	if err != nil {
		return h, err
	}
	for _, t := range tables {
		h.table = h.table || t.Name == podNetTable
	}
	return h, nil
}

// restore removes the bridge and table the benchmark's node made, unless
// another node has started using them meanwhile.
func (h hostNetwork) restore() {
	br, err := netlink.LinkByName(podBridge)
	if h.bridge || err != nil || len(linksOn(br)) > 0 {
		return
	}
	netlink.LinkDel(br)
	if h.table {
		return
	}
	if tables, err := listTables(); err == nil {
		for _, t := range tables {
			if t.Name == podNetTable {
				if conn, err := nftables.New(); err == nil {
					conn.DelTable(t)
					conn.Flush()
				}
			}
		}
	}
}

func listTables() ([]*nftables.Table, error) {
	conn, err := nftables.New()
	if err != nil {
		return nil, err
	}
	return conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
}

// linksOn names the links enslaved to a bridge.
func linksOn(br netlink.Link) []string {
	links, err := netlink.LinkList()
	if err != nil {
		return nil
	}
	var names []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			names = append(names, l.Attrs().Name)
		}
	}
	return names
}

// stopNode stops a server (SIGTERM, then its process group), then ends
// whatever it left running under dir (its shims and their containers
// once their pods were deleted, none should be left), unmounts what is
// mounted under dir and removes dir. It returns what it had to clean up
// beyond the server.
func stopNode(srv *benchutil.Server, dir string) ([]string, error) {
	var errs []error
	if srv != nil {
		if err := srv.Stop(time.Minute); err != nil {
			errs = append(errs, fmt.Errorf("stopping the server: %w", err))
		}
	}
	leftovers := killProcessesUnder(dir)
	leftovers = append(leftovers, unmountUnder(dir)...)
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return leftovers, errors.Join(errs...)
}

// killProcessesUnder kills, by PID, every process whose command line
// names dir (only this run's are: dir is its own temp dir) and all their
// descendants, waits until they are gone and names them.
func killProcessesUnder(dir string) []string {
	procs, err := benchutil.Processes()
	if err != nil {
		return []string{err.Error()}
	}
	victims := map[int]string{}
	for _, p := range procs {
		if p.PID != os.Getpid() && strings.Contains(p.Cmdline, dir+"/") {
			victims[p.PID] = p.Cmdline
			for _, d := range benchutil.Descendants(procs, p.PID) {
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

// unmountUnder unmounts, deepest first, every mount point under dir
// (containers' rootfs, pods' tmpfs volumes) and names them.
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
		if p := unescapeMountPoint(fields[4]); strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var names []string
	for _, p := range points {
		names = append(names, "mount "+p)
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			names = append(names, fmt.Sprintf("unmounting %s: %v", p, err))
		}
	}
	return names
}

// unescapeMountPoint undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPoint(s string) string {
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
