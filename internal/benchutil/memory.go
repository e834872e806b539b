package benchutil

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is a process's resident memory: all of it (VmRSS, which counts
// the pages of the binary and shared libraries it touched) and its
// private part (RssAnon).
type Memory struct{ RSS, Anon int64 }

// Add sums two processes' memory.
func (m Memory) Add(o Memory) Memory { return Memory{RSS: m.RSS + o.RSS, Anon: m.Anon + o.Anon} }

// ReadMemory reads a process's memory from /proc/PID/status.
func ReadMemory(pid int) (Memory, error) {
	var m Memory
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for field, into := range map[string]*int64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon} {
			if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				*into = kb << 10
			}
		}
	}
	return m, sc.Err()
}

// MiB is bytes in mebibytes.
func MiB(b int64) float64 { return float64(b) / (1 << 20) }

// Process is one entry of /proc.
type Process struct {
	PID, PPID int
	// Comm is the process's name; Cmdline its arguments joined by spaces.
	Comm, Cmdline string
}

// Processes lists the machine's processes; those that exit while being
// read are left out.
func Processes() ([]Process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var procs []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, err := readProcess(pid)
		if err != nil {
			continue
		}
		procs = append(procs, p)
	}
	return procs, nil
}

func readProcess(pid int) (Process, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Process{}, err
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return Process{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 2 {
		return Process{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ppid, _ := strconv.Atoi(fields[1])
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return Process{
		PID: pid, PPID: ppid, Comm: string(stat[open+1 : end]),
		Cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")),
	}, nil
}

// Descendants returns root's descendants among procs (not root itself).
func Descendants(procs []Process, root int) []Process {
	children := map[int][]Process{}
	for _, p := range procs {
		children[p.PPID] = append(children[p.PPID], p)
	}
	var out []Process
	var walk func(int)
	walk = func(pid int) {
		for _, c := range children[pid] {
			out = append(out, c)
			walk(c.PID)
		}
	}
	walk(root)
	return out
}
