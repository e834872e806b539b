package volume

// A subPath is resolved and mounted as kubelet's PrepareSafeSubpath does
// since CVE-2017-1002101 and CVE-2021-25741. Handing the runtime a path
// string is not enough: a container that shares the volume can swap a
// component of that path for a symlink to / between the resolution here
// and the runtime's bind mount, which follows symlinks again. So the
// subPath is opened component by component under the volume root, never
// following a symlink out of it, and what was opened is bind-mounted
// through /proc/self/fd onto a private target under the pod directory
// (volume-subpaths/<volume>/<container>/<index>). The runtime mounts that
// target, which no container can reach, and the bind pins the inode.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"
)

const subPathsDir = "volume-subpaths"

// subPathTarget is where the index'th volumeMount of container is
// bind-mounted when it has a subPath, as kubelet names it.
func (m *Manager) subPathTarget(uid types.UID, volume, container string, index int) string {
	return filepath.Join(m.podDir(uid), subPathsDir, volume, container, strconv.Itoa(index))
}

// prepareSubPath opens sub inside the volume at root, symlinks resolved
// as if root were /, making it a directory (with the root's mode) when it
// does not exist yet, and bind-mounts it onto target, which it returns.
// Without the privilege to mount (an unprivileged agent driving a runtime
// that mounts nothing) it returns the path it opened instead.
func prepareSubPath(root, sub, target string) (string, error) {
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("subPath %q must not be an absolute path", sub)
	}
	for _, part := range strings.Split(filepath.ToSlash(sub), "/") {
		if part == ".." {
			return "", fmt.Errorf("subPath %q must not contain '..'", sub)
		}
	}
	handle, err := openSubPath(root, sub)
	if err != nil {
		return "", err
	}
	defer handle.Close()
	return bindSubPath(handle, target)
}

// openSubPath returns an O_PATH handle on sub inside root.
func openSubPath(root, sub string) (*os.File, error) {
	rootDir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer rootDir.Close()
	handle, err := pathrs.OpenatInRoot(rootDir, sub)
	if !errors.Is(err, fs.ErrNotExist) {
		return handle, err
	}
	info, err := rootDir.Stat()
	if err != nil {
		return nil, err
	}
	// MkdirAllHandle creates each missing directory with mkdirat under
	// the handle of its parent, so a swapped symlink cannot redirect it.
	return pathrs.MkdirAllHandle(rootDir, sub, info.Mode().Perm())
}

// bindSubPath bind-mounts what handle refers to onto target, a file or a
// directory to match. A target already showing that same inode (an
// earlier sync) is kept; one showing another is unmounted first.
func bindSubPath(handle *os.File, target string) (string, error) {
	var src unix.Stat_t
	if err := unix.Fstat(int(handle.Fd()), &src); err != nil {
		return "", err
	}
	var cur unix.Stat_t
	err := unix.Lstat(target, &cur)
	if err == nil && cur.Dev == src.Dev && cur.Ino == src.Ino {
		return target, nil
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return "", err
	}
	if err == nil {
		if err := unmountAll(target); err != nil {
			return "", err
		}
		if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	isDir := src.Mode&unix.S_IFMT == unix.S_IFDIR
	if err := makeMountPoint(target, isDir); err != nil {
		return "", err
	}
	source := "/proc/self/fd/" + strconv.Itoa(int(handle.Fd()))
	err = unix.Mount(source, target, "", unix.MS_BIND, "")
	if errors.Is(err, unix.EPERM) {
		// Nothing mounts here, so no runtime that could be raced mounts
		// either; still, the path is the one opened safely.
		return os.Readlink(source)
	}
	if err != nil {
		return "", fmt.Errorf("bind-mount subPath onto %s: %w", target, err)
	}
	return target, nil
}

// makeMountPoint creates target as an empty directory or file.
func makeMountPoint(target string, isDir bool) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return err
	}
	if isDir {
		return os.Mkdir(target, 0o750)
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	return f.Close()
}

// unmountAll removes every mount stacked on target.
func unmountAll(target string) error {
	for {
		err := unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		// EPERM: an agent that may not unmount could not have mounted.
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
}
