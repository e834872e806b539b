package crilog

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// watcher wakes a follower when the log file changes (inotify), and in any
// case after pollInterval so that the caller can look at its context and at
// whether the container still runs. Without inotify it just polls.
type watcher struct {
	fd int // inotify descriptor; -1 when polling
}

func newWatcher(path string) *watcher {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return &watcher{fd: -1}
	}
	mask := uint32(unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_MOVE_SELF | unix.IN_DELETE_SELF | unix.IN_ATTRIB)
	if _, err := unix.InotifyAddWatch(fd, path, mask); err != nil {
		unix.Close(fd)
		return &watcher{fd: -1}
	}
	return &watcher{fd: fd}
}

// wait returns after the file changed or pollInterval passed, or with
// ctx's error once ctx is done.
func (w *watcher) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.fd < 0 {
		t := time.NewTimer(pollInterval)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(pollInterval/time.Millisecond))
	if err != nil && err != unix.EINTR {
		return nil // fall back to the caller's next look at the file
	}
	if n > 0 {
		// Drain the events: which one it was does not matter, the
		// caller reads the file again either way.
		var buf [4096]byte
		for {
			if m, err := unix.Read(w.fd, buf[:]); m <= 0 || err != nil {
				break
			}
		}
	}
	return ctx.Err()
}

func (w *watcher) close() {
	if w != nil && w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}
