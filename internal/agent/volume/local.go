package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// Kubelet's SetVolumeOwnership masks: group read-write for writable
// volumes, group read for read-only ones, group search on directories
// (which also get setgid, so new files inherit the group).
const (
	rwMask   = fs.FileMode(0o660)
	roMask   = fs.FileMode(0o440)
	execMask = fs.FileMode(0o110)
)

// setUpEmptyDir makes an emptyDir: a directory, or a tmpfs for medium
// Memory (sized by sizeLimit), world-writable as kubelet leaves it, and
// owned by the pod's fsGroup when it has one.
func setUpEmptyDir(dir string, src *corev1.EmptyDirVolumeSource, fsGroup *int64, policy *corev1.PodFSGroupChangePolicy) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if src.Medium == corev1.StorageMediumMemory {
		opts := ""
		if src.SizeLimit != nil && !src.SizeLimit.IsZero() {
			opts = fmt.Sprintf("size=%d", src.SizeLimit.Value())
		}
		if err := ensureTmpfs(dir, opts); err != nil {
			return err
		}
	}
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if info.Mode().Perm() != 0o777 {
		if err := os.Chmod(dir, 0o777); err != nil {
			return err
		}
	}
	if fsGroup != nil {
		return setOwnership(dir, *fsGroup, false, policy)
	}
	return nil
}

// ensureTmpfs mounts a tmpfs on dir unless one is there already (the
// agent may have restarted).
func ensureTmpfs(dir, opts string) error {
	mounted, err := isMountPoint(dir)
	if err != nil || mounted {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// isMountPoint is true when dir is on another device than its parent,
// which a tmpfs always is.
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}

// setOwnership gives a volume to the pod's fsGroup as kubelet's
// SetVolumeOwnership does: group set on everything, the group masks
// added to modes, setgid on directories. OnRootMismatch skips the walk
// when the root already has the group and the masks.
func setOwnership(dir string, fsGroup int64, readOnly bool, policy *corev1.PodFSGroupChangePolicy) error {
	mask := rwMask
	if readOnly {
		mask = roMask
	}
	if policy != nil && *policy == corev1.FSGroupChangeOnRootMismatch {
		info, err := os.Stat(dir)
		if err != nil {
			return err
		}
		want := mask | execMask | fs.ModeSetgid
		if st, ok := info.Sys().(*syscall.Stat_t); ok && int64(st.Gid) == fsGroup && info.Mode()&want == want {
			return nil
		}
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, -1, int(fsGroup)); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil // chmod would follow it
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		m := mask
		if d.IsDir() {
			m |= execMask | fs.ModeSetgid
		}
		if info.Mode()&m == m {
			return nil
		}
		return os.Chmod(path, info.Mode()&(fs.ModePerm|fs.ModeSetgid|fs.ModeSetuid|fs.ModeSticky)|m)
	})
}

// checkHostPathType checks (or creates) a hostPath as its type says,
// with kubelet's messages.
func checkHostPathType(path string, t *corev1.HostPathType) error {
	if t == nil || *t == corev1.HostPathUnset {
		return nil
	}
	info, statErr := os.Stat(path)
	exists := statErr == nil
	mode := fs.FileMode(0)
	if exists {
		mode = info.Mode()
	}
	switch *t {
	case corev1.HostPathDirectoryOrCreate:
		if !exists {
			return os.MkdirAll(path, 0o755)
		}
		fallthrough
	case corev1.HostPathDirectory:
		if !exists || !mode.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", path)
		}
	case corev1.HostPathFileOrCreate:
		if !exists {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		fallthrough
	case corev1.HostPathFile:
		if !exists || !mode.IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", path)
		}
	case corev1.HostPathSocket:
		if !exists || mode&fs.ModeSocket == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", path)
		}
	case corev1.HostPathCharDev:
		if !exists || mode&fs.ModeCharDevice == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a character device", path)
		}
	case corev1.HostPathBlockDev:
		if !exists || mode&fs.ModeDevice == 0 || mode&fs.ModeCharDevice != 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a block device", path)
		}
	default:
		return fmt.Errorf("%s is an invalid volume type", *t)
	}
	if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return statErr
	}
	return nil
}
