package testimages

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(busyboxBinary); err != nil {
		t.Skipf("%s: %v (install busybox-static)", busyboxBinary, err)
	}
}

func needGo(t *testing.T) {
	t.Helper()
	if _, err := goCommand(); err != nil {
		t.Skip(err)
	}
}

// loadImage reads a docker-archive tar back, as an importer would.
func loadImage(t *testing.T, path, tag string) v1.Image {
	t.Helper()
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &ref)
	if err != nil {
		t.Fatalf("%s does not hold %s: %v", path, tag, err)
	}
	return img
}

// entry is one file of a layer.
type entry struct {
	typ  byte
	mode int64
	link string
	body string
}

func layerEntries(t *testing.T, l v1.Layer) map[string]entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	entries := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		e := entry{typ: hdr.Typeflag, mode: hdr.Mode, link: hdr.Linkname}
		if hdr.Typeflag == tar.TypeReg && hdr.Size < 4096 {
			b, _ := io.ReadAll(tr)
			e.body = string(b)
		}
		entries[strings.TrimSuffix(hdr.Name, "/")] = e
	}
}

func TestBusybox(t *testing.T) {
	needBusybox(t)
	dir := t.TempDir()
	start := time.Now()
	path, err := Busybox(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("busybox cold: %v", time.Since(start))
	img := loadImage(t, path, BusyboxTag)

	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Config.Cmd, []string{"sh"}) || cfg.OS != "linux" || !slices.Contains(cfg.Config.Env, defaultPath) {
		t.Errorf("config: cmd %q, os %q, env %q", cfg.Config.Cmd, cfg.OS, cfg.Config.Env)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	files := layerEntries(t, layers[0])
	checks := []struct {
		path string
		want func(entry) bool
	}{
		{"bin/busybox", func(e entry) bool { return e.typ == tar.TypeReg && e.mode == 0o755 }},
		{"bin/sh", func(e entry) bool { return e.typ == tar.TypeSymlink && e.link == "busybox" }},
		{"bin/wget", func(e entry) bool { return e.typ == tar.TypeSymlink && e.link == "busybox" }},
		{"bin/[", func(e entry) bool { return e.typ == tar.TypeSymlink }},
		{"tmp", func(e entry) bool { return e.typ == tar.TypeDir && e.mode == 0o1777 }},
		{"etc/passwd", func(e entry) bool {
			return strings.Contains(e.body, "root:x:0:0:") && strings.Contains(e.body, "nobody:x:65534:65534:")
		}},
		{"etc/group", func(e entry) bool {
			return strings.Contains(e.body, "root:x:0:") && strings.Contains(e.body, "nobody:x:65534:")
		}},
	}
	for _, c := range checks {
		e, ok := files[c.path]
		if !ok || !c.want(e) {
			t.Errorf("%s: %+v (present %v)", c.path, e, ok)
		}
	}

	// Cached: the same file comes back untouched.
	before, _ := os.Stat(path)
	start = time.Now()
	again, err := Busybox(dir)
	if err != nil || again != path {
		t.Fatalf("second build: %q, %v; want %q", again, err, path)
	}
	t.Logf("busybox cached: %v", time.Since(start))
	if after, _ := os.Stat(path); !after.ModTime().Equal(before.ModTime()) {
		t.Error("cached tar was rewritten")
	}

	// Reproducible: another cache gets the same image ID.
	other, err := Busybox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id1, _ := img.ConfigName()
	id2, _ := loadImage(t, other, BusyboxTag).ConfigName()
	if id1 != id2 {
		t.Errorf("two builds gave image IDs %s and %s", id1, id2)
	}
}

func TestBusyboxConcurrentBuilds(t *testing.T) {
	needBusybox(t)
	dir := t.TempDir()
	const n = 4
	paths := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = Busybox(dir)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("build %d: %q, %v (first %q)", i, paths[i], errs[i], paths[0])
		}
	}
	loadImage(t, paths[0], BusyboxTag)
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestHTTPApp(t *testing.T) {
	needBusybox(t)
	needGo(t)
	dir := t.TempDir()
	ids := map[string]v1.Hash{}
	for _, version := range HTTPAppVersions {
		start := time.Now()
		path, err := HTTPApp(dir, version)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("httpapp %s cold: %v", version, time.Since(start))
		start = time.Now()
		if again, err := HTTPApp(dir, version); err != nil || again != path {
			t.Fatalf("second build: %q, %v; want %q", again, err, path)
		}
		t.Logf("httpapp %s cached: %v", version, time.Since(start))

		img := loadImage(t, path, HTTPAppRepository+":"+version)
		ids[version], _ = img.ConfigName()
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.Config.Entrypoint, []string{httpAppBinary}) || !slices.Contains(cfg.Config.Env, "PORT=8080") {
			t.Errorf("config: entrypoint %q, env %q", cfg.Config.Entrypoint, cfg.Config.Env)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 2 {
			t.Fatalf("layers: %d, %v", len(layers), err)
		}
		// The busybox layer underneath gives `kubectl exec` a shell.
		if e := layerEntries(t, layers[0])["bin/sh"]; e.typ != tar.TypeSymlink {
			t.Errorf("base layer: no bin/sh")
		}
		if e := layerEntries(t, layers[1])["usr/local/bin/httpapp"]; e.typ != tar.TypeReg || e.mode != 0o755 {
			t.Errorf("app layer: usr/local/bin/httpapp is %+v", e)
		}
	}
	if ids["v1"] == ids["v2"] {
		t.Errorf("v1 and v2 have the same image ID %s", ids["v1"])
	}
	if _, err := HTTPApp(dir, "no/slash"); err == nil {
		t.Error("version with a slash: no error")
	}
}

func TestAll(t *testing.T) {
	needBusybox(t)
	needGo(t)
	paths, err := All(t.TempDir())
	if err != nil || len(paths) != 1+len(HTTPAppVersions) {
		t.Fatalf("All: %q, %v", paths, err)
	}
}

func TestHTTPAppRelativeCacheDir(t *testing.T) {
	needBusybox(t)
	needGo(t)
	t.Chdir(t.TempDir())
	path, err := HTTPApp("cache", "v1")
	if err != nil {
		t.Fatal(err)
	}
	loadImage(t, path, HTTPAppRepository+":v1")
}
