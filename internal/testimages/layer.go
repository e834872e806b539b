package testimages

import (
	"archive/tar"
	"bytes"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is the time stamped on every file, layer and config, so that builds
// are reproducible.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// layerBuilder collects the entries of one image layer, in order.
type layerBuilder struct {
	buf bytes.Buffer
	tw  *tar.Writer
	err error
}

func newLayerBuilder() *layerBuilder {
	b := &layerBuilder{}
	b.tw = tar.NewWriter(&b.buf)
	return b
}

func (b *layerBuilder) write(hdr *tar.Header, body []byte) {
	if b.err != nil {
		return
	}
	hdr.ModTime = epoch
	hdr.Format = tar.FormatPAX
	if b.err = b.tw.WriteHeader(hdr); b.err == nil && len(body) > 0 {
		_, b.err = b.tw.Write(body)
	}
}

func (b *layerBuilder) dir(name string, mode int64) {
	b.write(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}, nil)
}

func (b *layerBuilder) file(name string, mode int64, body []byte) {
	b.write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body)
}

func (b *layerBuilder) symlink(name, target string) {
	b.write(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}, nil)
}

// layer closes the tar and returns it as an image layer (gzip-compressed
// in the archive, as registries and `docker save` carry them).
func (b *layerBuilder) layer() (v1.Layer, error) {
	if b.err != nil {
		return nil, b.err
	}
	if err := b.tw.Close(); err != nil {
		return nil, err
	}
	data := b.buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithCompressedCaching)
}
