package nodetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	ctrdruntime "mini.dev/mini/internal/runtime/containerd"
	"mini.dev/mini/internal/testimages"
)

// httpAppImage is the test app; it and busybox are imported into the node
// before any test runs, and pods use imagePullPolicy IfNotPresent since
// there is no registry.
const httpAppImage = testimages.HTTPAppRepository + ":v1"

// testImageCache is where test image tars are kept between runs, the same
// place scripts/build-test-images uses.
func testImageCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "mini", "test-images")
}

// importTestImages builds (or finds) busybox and httpapp:v1 and imports
// them into the node's own containerd the way `mini image import` does.
func importTestImages(ctx context.Context, dataDir string) error {
	cache := testImageCache()
	bb, err := testimages.Busybox(cache)
	if err != nil {
		return err
	}
	app, err := testimages.HTTPApp(cache, "v1")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rt, err := ctrdruntime.Dial(ctx, ctrdruntime.SocketPath(filepath.Join(dataDir, "agent")), ctrdruntime.DefaultNamespace)
	if err != nil {
		return err
	}
	defer rt.Close()
	for _, tar := range []string{bb, app} {
		f, err := os.Open(tar)
		if err != nil {
			return err
		}
		_, err = rt.ImportImage(ctx, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", tar, err)
		}
	}
	return nil
}
