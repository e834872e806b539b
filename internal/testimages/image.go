package testimages

import (
	"fmt"
	"io"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// defaultPath is the PATH docker's busybox image sets.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// imageSpec is one image to assemble: its layers, bottom first, each with
// the history line that explains it, and its runtime config.
type imageSpec struct {
	tag     string
	layers  []v1.Layer
	history []string
	config  v1.Config
}

// writeArchive assembles the image and writes it as a docker-archive tar
// tagged spec.tag.
func writeArchive(spec imageSpec, w io.Writer) error {
	tag, err := name.NewTag(spec.tag)
	if err != nil {
		return err
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		Config:       spec.config,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return err
	}
	for i, l := range spec.layers {
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:   l,
			History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: spec.history[i], Comment: "mini testimages"},
		})
		if err != nil {
			return err
		}
	}
	if err := tarball.Write(tag, img, w); err != nil {
		return fmt.Errorf("%s: %w", spec.tag, err)
	}
	return nil
}
