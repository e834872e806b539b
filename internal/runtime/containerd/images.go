package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"mini.dev/mini/internal/runtime"
)

// normalizeImage returns the name containerd stores an image under, by
// the docker reference rules: "busybox" -> docker.io/library/busybox:latest.
func normalizeImage(image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", fmt.Errorf("containerd: image %q: %w", image, err)
	}
	return reference.TagNameOnly(named).String(), nil
}

// imageRef is an image by digest (repo@sha256:...), as pod status shows
// it as imageID.
func imageRef(name, digest string) string {
	if named, err := reference.ParseNormalizedNamed(name); err == nil {
		return named.Name() + "@" + digest
	}
	return name + "@" + digest
}

// image returns a stored image by (normalised) name.
func (r *Runtime) image(ctx context.Context, name string) (ctrd.Image, error) {
	norm, err := normalizeImage(name)
	if err != nil {
		return nil, err
	}
	img, err := r.client.GetImage(ctx, norm)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("containerd: image %q: %w", name, runtime.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("containerd: image %q: %w", name, err)
	}
	return img, nil
}

// imageConfig reads an image's config (entrypoint, cmd, env, ...).
func imageConfig(ctx context.Context, img ctrd.Image) (ocispec.ImageConfig, error) {
	desc, err := img.Config(ctx)
	if err != nil {
		return ocispec.ImageConfig{}, fmt.Errorf("containerd: config of %s: %w", img.Name(), err)
	}
	b, err := content.ReadBlob(ctx, img.ContentStore(), desc)
	if err != nil {
		return ocispec.ImageConfig{}, fmt.Errorf("containerd: config of %s: %w", img.Name(), err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(b, &cfg); err != nil {
		return ocispec.ImageConfig{}, fmt.Errorf("containerd: config of %s: %w", img.Name(), err)
	}
	return cfg.Config, nil
}

// PullImage implements runtime.Runtime. Registry errors are returned as
// they come, for the agent's ErrImagePull message.
func (r *Runtime) PullImage(ctx context.Context, image string, auth *runtime.AuthConfig) (string, error) {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return "", err
	}
	name, err := normalizeImage(image)
	if err != nil {
		return "", err
	}
	opts := []ctrd.RemoteOpt{ctrd.WithPullUnpack, ctrd.WithPullSnapshotter(r.snapshotter)}
	if auth != nil && (auth.Username != "" || auth.IdentityToken != "" || auth.RegistryToken != "") {
		authorizer := docker.NewDockerAuthorizer(docker.WithAuthCreds(func(string) (string, string, error) {
			if auth.IdentityToken != "" {
				return "", auth.IdentityToken, nil
			}
			return auth.Username, auth.Password, nil
		}))
		opts = append(opts, ctrd.WithResolver(docker.NewResolver(docker.ResolverOptions{
			Hosts: docker.ConfigureDefaultRegistries(docker.WithAuthorizer(authorizer)),
		})))
	}
	img, err := client.Pull(nctx, name, opts...)
	if err != nil {
		return "", fmt.Errorf("failed to pull and unpack image %q: %w", name, err)
	}
	return imageRef(img.Name(), img.Target().Digest.String()), nil
}

// ImageStatus implements runtime.Runtime.
func (r *Runtime) ImageStatus(ctx context.Context, image string) (*runtime.Image, error) {
	_, nctx, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	img, err := r.image(nctx, image)
	if err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	out, err := r.describe(nctx, []images.Image{img.Metadata()})
	if err != nil {
		return nil, err
	}
	cfg, err := imageConfig(nctx, img)
	if err != nil {
		return nil, err
	}
	out.User = cfg.User
	return out, nil
}

// describe merges the records of one image (its tags and digests) into a
// runtime.Image, whose ID is the config digest as in containerd's CRI.
func (r *Runtime) describe(ctx context.Context, recs []images.Image) (*runtime.Image, error) {
	out := &runtime.Image{}
	for _, rec := range recs {
		img := ctrd.NewImageWithPlatform(r.client, rec, platforms.Default())
		if out.ID == "" {
			desc, err := img.Config(ctx)
			if err != nil {
				return nil, fmt.Errorf("containerd: image %s: %w", rec.Name, err)
			}
			out.ID = desc.Digest.String()
			size, err := img.Size(ctx)
			if err == nil {
				out.Size = uint64(size)
			}
		}
		named, err := reference.ParseNormalizedNamed(rec.Name)
		if err != nil {
			continue
		}
		if _, tagged := named.(reference.Tagged); tagged {
			out.RepoTags = append(out.RepoTags, named.String())
		}
		d := named.Name() + "@" + rec.Target.Digest.String()
		if !slices.Contains(out.RepoDigests, d) {
			out.RepoDigests = append(out.RepoDigests, d)
		}
	}
	return out, nil
}

// ListImages implements runtime.Runtime: one entry per image, however
// many names it has.
func (r *Runtime) ListImages(ctx context.Context) ([]*runtime.Image, error) {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := client.ImageService().List(nctx)
	if err != nil {
		return nil, fmt.Errorf("containerd: listing images: %w", err)
	}
	byTarget := map[string][]images.Image{}
	var order []string
	for _, rec := range recs {
		d := rec.Target.Digest.String()
		if _, ok := byTarget[d]; !ok {
			order = append(order, d)
		}
		byTarget[d] = append(byTarget[d], rec)
	}
	var out []*runtime.Image
	for _, d := range order {
		img, err := r.describe(nctx, byTarget[d])
		if err != nil {
			r.log.Debug("skipping an image", "digest", d, "err", err)
			continue
		}
		out = append(out, img)
	}
	slices.SortFunc(out, func(a, b *runtime.Image) int { return strings.Compare(firstName(a), firstName(b)) })
	return out, nil
}

func firstName(img *runtime.Image) string {
	if len(img.RepoTags) > 0 {
		return img.RepoTags[0]
	}
	if len(img.RepoDigests) > 0 {
		return img.RepoDigests[0]
	}
	return img.ID
}

// RemoveImage implements runtime.Runtime: it removes the name given; the
// content goes with the last name, by containerd's garbage collection.
func (r *Runtime) RemoveImage(ctx context.Context, image string) error {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return err
	}
	name, err := normalizeImage(image)
	if err != nil {
		return err
	}
	if err := client.ImageService().Delete(nctx, name, images.SynchronousDelete()); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containerd: removing image %s: %w", name, err)
	}
	return nil
}

// ImportImage loads a docker-archive or OCI tar and unpacks its images
// into the snapshotter containers use.
func (r *Runtime) ImportImage(ctx context.Context, rd io.Reader) ([]*runtime.Image, error) {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := client.Import(nctx, rd,
		ctrd.WithImportPlatform(platforms.Default()),
		// OCI tars may name an image by a bare tag or short name.
		ctrd.WithImageRefTranslator(func(ref string) string {
			if n, err := normalizeImage(ref); err == nil {
				return n
			}
			return ""
		}))
	if err != nil {
		return nil, fmt.Errorf("containerd: importing: %w", err)
	}
	var out []*runtime.Image
	for _, rec := range recs {
		img := ctrd.NewImageWithPlatform(client, rec, platforms.Default())
		if err := img.Unpack(nctx, r.snapshotter); err != nil {
			return nil, fmt.Errorf("containerd: unpacking %s: %w", rec.Name, err)
		}
		desc, err := r.describe(nctx, []images.Image{rec})
		if err != nil {
			return nil, err
		}
		out = append(out, desc)
	}
	return out, nil
}
