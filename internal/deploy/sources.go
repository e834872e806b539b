package deploy

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// builtinPrefix starts the key of a built-in manifest; a key of a file
// under Dir is its slash-separated path relative to Dir, so the two never
// meet.
const builtinPrefix = "builtin:"

// source is one manifest: a built-in or a file under Dir.
type source struct {
	key     string // record key and annotation value
	name    string // where it is, for logs: the file's path or the key
	builtin bool
	sig     fileSig // files only: changes when the file does
}

// fileSig is what a file's change shows in without reading it.
type fileSig struct {
	mod  time.Time
	size int64
}

// scan is what the manifests are at one moment.
type scan struct {
	apply    []source          // to apply, built-ins first, then files by path
	skipped  map[string]bool   // keys a .skip file leaves alone
	disabled map[string]source // keys --disable leaves out (their objects go)
	// unread is what could not be read under Dir: while it is not nil,
	// no file counts as removed, since it may be one of those unread.
	unread error
}

// isManifest is true for the file names applied: YAML or JSON, not
// hidden.
func isManifest(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// isDisabled is true when rel's base name without extension, or one of
// its directories, is a disabled name, as k3s matches --disable.
func isDisabled(rel string, disabled map[string]bool) bool {
	parts := strings.Split(rel, "/")
	for _, dir := range parts[:len(parts)-1] {
		if disabled[dir] {
			return true
		}
	}
	base := parts[len(parts)-1]
	return disabled[strings.TrimSuffix(base, path.Ext(base))]
}

// scanSources lists the built-in manifests and the files under dir ("" =
// none). A missing dir holds nothing.
func scanSources(builtin fs.FS, dir string, disabled map[string]bool) (scan, error) {
	s := scan{skipped: map[string]bool{}, disabled: map[string]source{}}
	var files []source
	skips := map[string]bool{} // relative paths named by a .skip file
	if dir != "" {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == dir && errors.Is(err, fs.ErrNotExist) {
					return fs.SkipAll
				}
				s.unread = errors.Join(s.unread, err) // the rest is still applied
				return nil
			}
			if d.IsDir() {
				if p != dir && strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir
				}
				return nil
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if strings.HasSuffix(rel, ".skip") {
				skips[strings.TrimSuffix(rel, ".skip")] = true
				return nil
			}
			if !isManifest(d.Name()) {
				return nil
			}
			info, err := os.Stat(p) // follows a symlinked file
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) { // else removed meanwhile, or a dangling link
					s.unread = errors.Join(s.unread, err)
				}
				return nil
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			files = append(files, source{key: rel, name: p, sig: fileSig{info.ModTime(), info.Size()}})
			return nil
		})
		if err != nil {
			return scan{}, err
		}
	}
	if builtin != nil {
		names, err := fs.Glob(builtin, "*")
		if err != nil {
			return scan{}, err
		}
		sort.Strings(names)
		for _, n := range names {
			if !isManifest(n) {
				continue
			}
			src := source{key: builtinPrefix + n, name: builtinPrefix + n, builtin: true}
			switch {
			case isDisabled(n, disabled):
				s.disabled[src.key] = src
			case skips[n]:
				s.skipped[src.key] = true
			default:
				s.apply = append(s.apply, src)
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].key < files[j].key })
	for _, f := range files {
		switch {
		case isDisabled(f.key, disabled):
			s.disabled[f.key] = f
		case skips[f.key]:
			s.skipped[f.key] = true
		default:
			s.apply = append(s.apply, f)
		}
	}
	return s, nil
}
