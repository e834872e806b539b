package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// UnmountUnder unmounts (detached), deepest first, every mount point
// under dir: containers' root filesystems, pods' tmpfs volumes and
// network namespace files. It returns how many it unmounted.
func UnmountUnder(dir string) (int, error) {
	points, err := MountPointsUnder(dir)
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// MountPointsUnder lists the mount points at or under dir, deepest
// first, from /proc/self/mountinfo.
func MountPointsUnder(dir string) ([]string, error) {
	all, err := mountPoints()
	var points []string
	for _, p := range all {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	// Deepest first; a path mounted twice is unmounted twice.
	sort.SliceStable(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	return points, err
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

// MountPointOf is the mount point holding path (an existing path: a
// symlink is not resolved), from /proc/self/mountinfo; "/" if none
// matches.
func MountPointOf(path string) string {
	all, _ := mountPoints()
	best := "/"
	for _, p := range all {
		if (p == path || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/")) && len(p) > len(best) {
			best = p
		}
	}
	return best
}

// mountPoints lists every mount point of /proc/self/mountinfo, in its
// order.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) >= 5 {
			points = append(points, unescapeMountPoint(fields[4]))
		}
	}
	return points, s.Err()
}
