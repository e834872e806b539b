package noderole

// `ip netns exec NAME cmd` runs cmd in a mount namespace of its own in
// which /sys is a fresh sysfs (so that /sys/class/net shows the
// namespace's links); the cgroup filesystems mounted under /sys/fs/cgroup
// are gone there, and runc then fails every container with "no cgroup
// mount found in mountinfo". A node started that way (the multi-node test
// harness runs each "host" so) mounts them again, as the host has them:
// same filesystems, same options, so the same hierarchies. ip netns exec
// makes its mount namespace a slave of the host's, so nothing of this
// reaches the host.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// cgroupMount is one mount under /sys/fs/cgroup, from mountinfo.
type cgroupMount struct {
	target, fstype, source string
	flags                  uintptr
	data                   string
}

// ensureCgroupFS mounts the host's cgroup filesystems at /sys/fs/cgroup
// when this mount namespace has none; it does nothing otherwise.
func ensureCgroupFS() error {
	own, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	if len(parseCgroupMounts(own)) > 0 {
		return nil
	}
	mounts := []cgroupMount{{target: cgroupRoot, fstype: "cgroup2", source: "cgroup2", flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC}}
	// The host's layout is pid 1's (v1 controllers, hybrid or unified).
	if host, err := os.ReadFile("/proc/1/mountinfo"); err == nil {
		if m := parseCgroupMounts(host); len(m) > 0 {
			mounts = m
		}
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return fmt.Errorf("mounting the cgroup filesystems: %w", err)
		}
		if err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mounting %s (%s) at %s, absent from this mount namespace (ip netns exec?): %w", m.fstype, m.data, m.target, err)
		}
	}
	return nil
}

// parseCgroupMounts lists the mounts at and under /sys/fs/cgroup of a
// mountinfo, parents first (mountinfo's order): a tmpfs holding v1
// hierarchies, cgroup (v1) and cgroup2 filesystems.
func parseCgroupMounts(mountinfo []byte) []cgroupMount {
	var out []cgroupMount
	s := bufio.NewScanner(bytes.NewReader(mountinfo))
	for s.Scan() {
		// id parent maj:min root target options [optional...] - fstype source super-options
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 6 || len(g) < 3 {
			continue
		}
		target, fstype := f[4], g[0]
		if target != cgroupRoot && !strings.HasPrefix(target, cgroupRoot+"/") {
			continue
		}
		if fstype != "cgroup" && fstype != "cgroup2" && !(fstype == "tmpfs" && target == cgroupRoot) {
			continue
		}
		out = append(out, cgroupMount{target: target, fstype: fstype, source: g[1],
			flags: mountFlags(f[5]), data: superData(g[2])})
	}
	return out
}

// mountFlags turns mountinfo's per-mount options into mount(2) flags.
func mountFlags(opts string) uintptr {
	var flags uintptr
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "ro":
			flags |= unix.MS_RDONLY
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "relatime":
			flags |= unix.MS_RELATIME
		case "noatime":
			flags |= unix.MS_NOATIME
		}
	}
	return flags
}

// superData is a filesystem's own options (controllers, mode) without
// rw/ro, which are flags.
func superData(opts string) string {
	var keep []string
	for _, o := range strings.Split(opts, ",") {
		if o != "rw" && o != "ro" && o != "" {
			keep = append(keep, o)
		}
	}
	return strings.Join(keep, ",")
}
