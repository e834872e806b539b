package testimages

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BusyboxTag is the busybox image's tag: docker.io/library/busybox:latest,
// so that manifests saying `image: busybox` find it.
const BusyboxTag = "docker.io/library/busybox:latest"

// busyboxBinary is where Debian's busybox-static package installs its
// statically linked binary.
const busyboxBinary = "/bin/busybox"

// Busybox writes (or finds in cacheDir) the busybox image built from the
// host's /bin/busybox and returns the tar's path.
func Busybox(cacheDir string) (string, error) {
	bb, err := readBusybox()
	if err != nil {
		return "", err
	}
	key := newCacheKey()
	bb.addTo(key)
	return cached(cacheDir, "busybox", key, func(w io.Writer) error {
		base, err := bb.layer()
		if err != nil {
			return err
		}
		return writeArchive(imageSpec{
			tag:     BusyboxTag,
			layers:  []v1.Layer{base},
			history: []string{bb.createdBy()},
			config:  v1.Config{Cmd: []string{"sh"}, Env: []string{defaultPath}},
		}, w)
	})
}

// busybox is the host's busybox binary and the applets it provides.
type busybox struct {
	binary  []byte
	applets []string
}

func readBusybox() (*busybox, error) {
	binary, err := os.ReadFile(busyboxBinary)
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w (install busybox-static)", err)
	}
	// Ask the binary itself rather than a fixed list: Debian's build
	// decides which applets exist.
	out, err := exec.Command(busyboxBinary, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox image: %s --list: %w", busyboxBinary, err)
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		// "busybox" is the binary itself; "[" and "[[" are valid applets.
		if a != "busybox" && !strings.Contains(a, "/") {
			applets = append(applets, a)
		}
	}
	if len(applets) == 0 || !slices.Contains(applets, "sh") {
		return nil, fmt.Errorf("busybox image: %s lists no sh applet", busyboxBinary)
	}
	return &busybox{binary: binary, applets: applets}, nil
}

func (b *busybox) addTo(key *cacheKey) {
	sum := sha256.Sum256(b.binary)
	key.addString("busybox", runtime.GOARCH)
	key.add(sum[:])
	key.addString(b.applets...)
}

func (b *busybox) createdBy() string {
	sum := sha256.Sum256(b.binary)
	return fmt.Sprintf("busybox-static %x from %s, %d applets", sum[:6], busyboxBinary, len(b.applets))
}

// layer is a minimal root filesystem: every applet in /bin as a symlink to
// busybox (like docker's busybox image, which uses hard links), root and
// nobody in /etc/passwd and /etc/group, and a world-writable /tmp.
func (b *busybox) layer() (v1.Layer, error) {
	l := newLayerBuilder()
	l.dir("bin", 0o755)
	l.file("bin/busybox", 0o755, b.binary)
	for _, a := range b.applets {
		l.symlink("bin/"+a, "busybox")
	}
	for _, d := range []string{"dev", "etc", "home", "proc", "root", "sys", "usr", "usr/local", "usr/local/bin", "var", "var/run"} {
		mode := int64(0o755)
		if d == "root" {
			mode = 0o700
		}
		l.dir(d, mode)
	}
	l.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"))
	l.file("etc/group", 0o644, []byte("root:x:0:\nnobody:x:65534:\n"))
	l.dir("tmp", 0o1777)
	return l.layer()
}

// trimmed is a helper for error messages from commands.
func trimmed(b []byte) string { return string(bytes.TrimSpace(b)) }
