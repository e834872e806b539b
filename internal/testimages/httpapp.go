package testimages

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// HTTPAppRepository is the HTTP test app's repository; tags are versions.
const HTTPAppRepository = "mini.dev/test/httpapp"

// HTTPAppVersions are the versions tests use, for rollouts from one to the
// other.
var HTTPAppVersions = []string{"v1", "v2"}

// httpAppSource is the app's whole source, embedded so the image can be
// built from any working directory (tests of other packages, installed
// binaries).
//
//go:embed httpapp/main.go
var httpAppSource []byte

// httpAppBinary is where the app sits in its image.
const httpAppBinary = "/usr/local/bin/httpapp"

// HTTPApp writes (or finds in cacheDir) the image mini.dev/test/httpapp:<version>
// and returns the tar's path. The app (see httpapp/main.go) is compiled with
// the Go toolchain found on the machine, statically (CGO_ENABLED=0), and
// layered on the busybox image so that `kubectl exec` has a shell.
func HTTPApp(cacheDir, version string) (string, error) {
	tag := HTTPAppRepository + ":" + version
	if _, err := name.NewTag(tag, name.StrictValidation); err != nil {
		return "", fmt.Errorf("httpapp version %q: %w", version, err)
	}
	bb, err := readBusybox()
	if err != nil {
		return "", err
	}
	key := newCacheKey()
	bb.addTo(key)
	key.addString("httpapp", version, runtime.GOARCH)
	key.add(httpAppSource)
	return cached(cacheDir, "httpapp-"+version, key, func(w io.Writer) error {
		binary, err := buildHTTPApp(cacheDir, version)
		if err != nil {
			return err
		}
		base, err := bb.layer()
		if err != nil {
			return err
		}
		l := newLayerBuilder()
		l.dir("usr", 0o755)
		l.dir("usr/local", 0o755)
		l.dir("usr/local/bin", 0o755)
		l.file(httpAppBinary[1:], 0o755, binary)
		l.dir("www", 0o755)
		app, err := l.layer()
		if err != nil {
			return err
		}
		return writeArchive(imageSpec{
			tag:     tag,
			layers:  []v1.Layer{base, app},
			history: []string{bb.createdBy(), "httpapp " + version + " (internal/testimages/httpapp)"},
			config: v1.Config{
				Entrypoint:   []string{httpAppBinary},
				Env:          []string{defaultPath, "PORT=8080"},
				ExposedPorts: map[string]struct{}{"8080/tcp": {}},
			},
		}, w)
	})
}

// buildHTTPApp compiles the embedded source in a scratch module under
// cacheDir and returns the binary.
func buildHTTPApp(cacheDir, version string) ([]byte, error) {
	goCmd, err := goCommand()
	if err != nil {
		return nil, err
	}
	// go build runs in dir, so every path handed to it must be absolute.
	cacheDir, err = filepath.Abs(cacheDir)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cacheDir, ".httpapp-build-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{
		"go.mod":  []byte("module mini.dev/test/httpapp\n\ngo 1.22\n"),
		"main.go": httpAppSource,
	}
	for f, b := range files {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return nil, err
		}
	}
	out := filepath.Join(dir, "httpapp")
	cmd := exec.Command(goCmd, "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X main.version="+version, "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH,
		// The scratch module is on its own: no workspace, no flags meant
		// for mini's module, no toolchain download.
		"GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local", "GO111MODULE=on")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building httpapp %s: %w: %s", version, err, trimmed(msg))
	}
	return os.ReadFile(out)
}

// goCommand finds the go command: the one of the toolchain running the
// tests ($GOROOT, which `go test` and `go run` set), else the one on PATH,
// else the one this binary was built with.
func goCommand() (string, error) {
	candidates := []string{}
	if root := os.Getenv("GOROOT"); root != "" {
		candidates = append(candidates, filepath.Join(root, "bin", "go"))
	}
	if p, err := exec.LookPath("go"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, filepath.Join(runtime.GOROOT(), "bin", "go")) //nolint:staticcheck // last resort only
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("httpapp image: no go command found (tried %v)", candidates)
}
