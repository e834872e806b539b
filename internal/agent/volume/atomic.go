package volume

// The atomic writer is kubelet's AtomicWriter: a volume's files live in a
// timestamped directory (..2026_01_02_15_04_05.123456789), the symlink
// ..data points at the current one, and each top-level name in the volume
// is a symlink through ..data. An update writes a whole new timestamped
// directory, points ..data_tmp at it and renames ..data_tmp over ..data,
// so a reader inside the container sees either the old set of files or
// the new one, never a mix; then the old directory goes. Single-file
// subPath mounts resolve the symlinks at mount time and so, as upstream,
// do not see updates.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// fileProjection is one file of a volume's payload.
type fileProjection struct {
	Data []byte
	Mode int32
}

// writeAtomic makes dir hold exactly payload (relative path → file).
// It returns whether anything changed; an unchanged payload is not
// rewritten, so that readers see no churn. With an fsGroup, everything
// belongs to that group and is group-readable, as kubelet's
// SetVolumeOwnership leaves a read-only volume.
func writeAtomic(dir string, payload map[string]fileProjection, fsGroup *int64) (bool, error) {
	owned := make(map[string]fileProjection, len(payload))
	for p, f := range payload {
		if err := validatePayloadPath(p); err != nil {
			return false, err
		}
		if fsGroup != nil {
			f.Mode |= int32(roMask)
		}
		owned[p] = f
	}
	payload = owned
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	own := func(path string, isDir bool) error {
		if fsGroup == nil {
			return nil
		}
		if err := os.Lchown(path, -1, int(*fsGroup)); err != nil {
			return err
		}
		if isDir {
			return os.Chmod(path, 0o755|roMask|execMask|fs.ModeSetgid)
		}
		return nil
	}
	if err := own(dir, true); err != nil {
		return false, err
	}
	oldTS, err := os.Readlink(filepath.Join(dir, dataDirName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if oldTS != "" {
		same, err := payloadMatches(filepath.Join(dir, oldTS), payload)
		if err != nil {
			return false, err
		}
		if same {
			return false, nil
		}
	}

	tsDir, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return false, err
	}
	if err := own(tsDir, true); err != nil {
		return false, err
	}
	tsName := filepath.Base(tsDir)
	for p, f := range payload {
		full := filepath.Join(tsDir, p)
		for d := filepath.Dir(full); d != tsDir; d = filepath.Dir(d) {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return false, err
			}
			if err := own(d, true); err != nil {
				return false, err
			}
		}
		if err := os.WriteFile(full, f.Data, fs.FileMode(f.Mode)&fs.ModePerm); err != nil {
			return false, err
		}
		// WriteFile's mode is filtered by the umask; the payload's is not.
		if err := os.Chmod(full, fs.FileMode(f.Mode)&fs.ModePerm); err != nil {
			return false, err
		}
		if err := own(full, false); err != nil {
			return false, err
		}
	}

	// User-visible names first, so that they resolve as soon as ..data
	// points at the new directory.
	top := map[string]bool{}
	for p := range payload {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	for name := range top {
		link := filepath.Join(dir, name)
		target := filepath.Join(dataDirName, name)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		if err := os.RemoveAll(link); err != nil {
			return false, err
		}
		if err := os.Symlink(target, link); err != nil {
			return false, err
		}
		if err := own(link, false); err != nil {
			return false, err
		}
	}

	tmpLink := filepath.Join(dir, newDataDirName)
	_ = os.Remove(tmpLink)
	if err := os.Symlink(tsName, tmpLink); err != nil {
		return false, err
	}
	if err := own(tmpLink, false); err != nil {
		return false, err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataDirName)); err != nil {
		return false, err
	}

	// Clean-up: names no longer in the payload, then older directories.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true, err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == dataDirName || name == tsName:
		case strings.HasPrefix(name, ".."):
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return true, err
			}
		case !top[name] && e.Type()&fs.ModeSymlink != 0:
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return true, err
			}
		}
	}
	return true, nil
}

// payloadMatches reports whether dir holds exactly payload, modes included.
func payloadMatches(dir string, payload map[string]fileProjection) (bool, error) {
	seen := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		want, ok := payload[rel]
		if !ok {
			return errMismatch
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm() != fs.FileMode(want.Mode)&fs.ModePerm {
			return errMismatch
		}
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want.Data) {
			return errMismatch
		}
		seen++
		return nil
	})
	if errors.Is(err, errMismatch) || errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return seen == len(payload), nil
}

var errMismatch = errors.New("payload differs")

// validatePayloadPath rejects paths that could leave the volume, with
// kubelet's messages.
func validatePayloadPath(p string) error {
	if p == "" {
		return fmt.Errorf("invalid path: must not be empty: %q", p)
	}
	if filepath.IsAbs(p) {
		return fmt.Errorf("invalid path: must be relative path: %s", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("invalid path: must not contain '..': %s", p)
		}
	}
	if strings.HasPrefix(p, "..") {
		return fmt.Errorf("invalid path: must not start with '..': %s", p)
	}
	return nil
}
