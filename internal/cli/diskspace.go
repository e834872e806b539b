package cli

// A server on a full disk fails in confusing ways (the store refuses
// every write, containerd cannot unpack an image), so start, server and
// agent refuse up front when the data dir's filesystem is nearly full.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"mini.dev/mini/internal/daemon"
)

// minFreeBytes is the free space mini asks for on the data dir's
// filesystem: the store, images being unpacked and the logs.
const minFreeBytes = 100 << 20

// diskSpace checks free space; the zero value checks the real
// filesystem, tests replace its parts.
type diskSpace struct {
	statfs     func(path string, st *unix.Statfs_t) error
	mountPoint func(path string) string
	min        uint64
}

// checkDiskSpace refuses a data dir whose filesystem has less than
// minFreeBytes free.
func checkDiskSpace(dataDir string) error { return diskSpace{}.check(dataDir) }

func (d diskSpace) check(dataDir string) error {
	if d.statfs == nil {
		d.statfs = unix.Statfs
	}
	if d.mountPoint == nil {
		d.mountPoint = daemon.MountPointOf
	}
	if d.min == 0 {
		d.min = minFreeBytes
	}
	// The data dir may not exist yet: its nearest existing parent is on
	// the filesystem it will be made on.
	path := filepath.Clean(dataDir)
	for {
		if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) || path == filepath.Dir(path) {
			break
		}
		path = filepath.Dir(path)
	}
	var st unix.Statfs_t
	if err := d.statfs(path, &st); err != nil {
		// Not knowing is no reason to refuse: a write will say more.
		return nil
	}
	free := st.Bavail * uint64(st.Frsize) // statfs counts blocks in fragment-size units
	if free < d.min {
		return fmt.Errorf("disk full: only %d MiB free on %s (data dir %s); mini needs at least %d MiB",
			free>>20, d.mountPoint(path), dataDir, d.min>>20)
	}
	return nil
}
