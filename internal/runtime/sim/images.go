package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/distribution/reference"

	"mini.dev/mini/internal/runtime"
)

// normalizeImage returns the image's full name as containerd stores it
// ("nginx" -> "docker.io/library/nginx:latest") and its repository.
func normalizeImage(image string) (name, repo string, err error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", "", fmt.Errorf("image %q: %w", image, err)
	}
	named = reference.TagNameOnly(named)
	return named.String(), named.Name(), nil
}

// PullImage implements runtime.Runtime: every image is "pulled" at once.
// Its digest is derived from its name so that it is stable across nodes
// and restarts, as a real registry's would be.
func (r *Runtime) PullImage(_ context.Context, image string, _ *runtime.AuthConfig) (string, error) {
	name, repo, err := normalizeImage(image)
	if err != nil {
		return "", fmt.Errorf("sim: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if img, ok := r.images[name]; ok {
		return img.RepoDigests[0], nil
	}
	sum := sha256.Sum256([]byte(name))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	img := &runtime.Image{ID: digest, RepoTags: []string{name}, RepoDigests: []string{repo + "@" + digest}, Size: 4 << 20}
	r.images[name] = img
	return img.RepoDigests[0], nil
}

// ImageStatus implements runtime.Runtime.
func (r *Runtime) ImageStatus(_ context.Context, image string) (*runtime.Image, error) {
	name, _, err := normalizeImage(image)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	img, ok := r.images[name]
	if !ok {
		return nil, nil
	}
	return copyImage(img), nil
}

// ListImages implements runtime.Runtime.
func (r *Runtime) ListImages(context.Context) ([]*runtime.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*runtime.Image, 0, len(r.images))
	for _, img := range r.images {
		out = append(out, copyImage(img))
	}
	slices.SortFunc(out, func(a, b *runtime.Image) int {
		switch {
		case a.RepoTags[0] < b.RepoTags[0]:
			return -1
		case a.RepoTags[0] > b.RepoTags[0]:
			return 1
		}
		return 0
	})
	return out, nil
}

// RemoveImage implements runtime.Runtime.
func (r *Runtime) RemoveImage(_ context.Context, image string) error {
	name, _, err := normalizeImage(image)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	r.mu.Lock()
	delete(r.images, name)
	r.mu.Unlock()
	return nil
}

func copyImage(img *runtime.Image) *runtime.Image {
	c := *img
	c.RepoTags = slices.Clone(img.RepoTags)
	c.RepoDigests = slices.Clone(img.RepoDigests)
	return &c
}
