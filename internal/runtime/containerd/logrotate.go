package containerd

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Kubelet's defaults for container logs: --container-log-max-size 10Mi
// and --container-log-max-files 5.
const (
	maxLogSize  = 10 << 20
	maxLogFiles = 5
)

// rotationStamp names rotated files, as kubelet's log manager does
// (0.log.20240102-150405).
const rotationStamp = "20060102-150405"

// rotatingLog is a container's log file. Past its size limit it is
// renamed to <path>.<timestamp> and begun afresh, and only the newest
// files are kept, so a chatty container cannot fill the disk. Both
// streams' crilog writers share it; each of their writes is whole lines,
// which land in one file.
type rotatingLog struct {
	path    string
	maxSize int64
	keep    int // files in all, the current one included
	now     func() time.Time

	mu   sync.Mutex
	f    *os.File
	size int64
}

func openRotatingLog(path string) (*rotatingLog, error) {
	l := &rotatingLog{path: path, maxSize: maxLogSize, keep: maxLogFiles, now: time.Now}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *rotatingLog) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, st.Size()
	return nil
}

func (l *rotatingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.size > 0 && l.size+int64(len(p)) > l.maxSize {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate renames the current file aside, opens a new one and removes the
// oldest rotated files beyond the limit.
func (l *rotatingLog) rotate() error {
	if err := l.f.Close(); err != nil {
		return err
	}
	l.f = nil
	rotated := l.path + "." + l.now().UTC().Format(rotationStamp)
	if _, err := os.Stat(rotated); err == nil {
		rotated += fmt.Sprintf(".%d", l.now().UnixNano()) // two rotations in one second
	}
	if err := os.Rename(l.path, rotated); err != nil {
		return err
	}
	if err := l.open(); err != nil {
		return err
	}
	old, err := filepath.Glob(l.path + ".*")
	if err != nil {
		return err
	}
	slices.Sort(old) // the stamps sort by time
	for len(old) > l.keep-1 {
		os.Remove(old[0])
		old = old[1:]
	}
	return nil
}

func (l *rotatingLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
