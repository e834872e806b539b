package testimages

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// formatVersion is part of every cache key: bump it when the way images are
// laid out changes, so stale tars in users' caches are not reused.
const formatVersion = "testimages/1"

// cacheKey hashes the inputs of one image. Each part is length-prefixed so
// that ("ab", "c") and ("a", "bc") differ.
type cacheKey struct{ h hash.Hash }

func newCacheKey() *cacheKey {
	k := &cacheKey{h: sha256.New()}
	k.add([]byte(formatVersion))
	return k
}

func (k *cacheKey) add(parts ...[]byte) {
	for _, p := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		k.h.Write(n[:])
		k.h.Write(p)
	}
}

func (k *cacheKey) addString(parts ...string) {
	for _, p := range parts {
		k.add([]byte(p))
	}
}

// hex is the key as it appears in file names: 16 hex digits are plenty to
// tell a few cached versions apart.
func (k *cacheKey) hex() string { return fmt.Sprintf("%x", k.h.Sum(nil)[:8]) }

// cached returns cacheDir/<name>-<key>.tar, writing it with write first when
// it is absent. The tar is written to a temporary file and renamed into
// place, so a reader never sees half a file, and two processes building the
// same image at once both succeed (the later rename replaces identical
// content).
func cached(cacheDir, name string, key *cacheKey, write func(w io.Writer) error) (string, error) {
	path := filepath.Join(cacheDir, name+"-"+key.hex()+".tar")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(cacheDir, "."+name+"-*.tmp")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := write(f); err != nil {
		f.Close()
		return "", fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return path, nil
}
