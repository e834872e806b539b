package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/distribution/reference"
	"github.com/spf13/cobra"

	"mini.dev/mini/internal/runtime"
	"mini.dev/mini/internal/runtime/containerd"
)

// imageOptions are the flags every `mini image` subcommand shares: where the
// node's containerd is, found as `mini server` finds it.
type imageOptions struct {
	dataDir  string
	endpoint string
}

// imageStore is what the image commands need of the node's runtime.
type imageStore interface {
	ImportImage(ctx context.Context, r io.Reader) ([]*runtime.Image, error)
	ListImages(ctx context.Context) ([]*runtime.Image, error)
	RemoveImage(ctx context.Context, image string) error
	Close() error
}

func newImageCommand(streams Streams) *cobra.Command {
	o := &imageOptions{}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Import, list and remove the images of this node's containerd",
		Args:  cobra.NoArgs,
	}
	f := cmd.PersistentFlags()
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir, "directory holding the cluster's state; its node's containerd is used")
	f.StringVar(&o.endpoint, "container-runtime-endpoint", "",
		"socket of the containerd to use (default: the one `mini server --data-dir` runs)")
	cmd.AddCommand(
		newImageImportCommand(streams, o),
		newImageListCommand(streams, o),
		newImageRemoveCommand(streams, o),
	)
	return cmd
}

func newImageImportCommand(streams Streams, o *imageOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE|-...",
		Short: "Import images from docker-archive or OCI tars (- reads standard input)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.withStore(cmd.Context(), func(ctx context.Context, s imageStore) error {
				for _, file := range args {
					if err := importImages(ctx, s, file, streams); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
}

func newImageListCommand(streams Streams, o *imageOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List images, as `crictl images` does",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withStore(cmd.Context(), func(ctx context.Context, s imageStore) error {
				images, err := s.ListImages(ctx)
				if err != nil {
					return err
				}
				return writeImageTable(streams.Out, images)
			})
		},
	}
}

func newImageRemoveCommand(streams Streams, o *imageOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "rm IMAGE...",
		Aliases: []string{"rmi"},
		Short:   "Remove images by name (busybox, mini.dev/test/httpapp:v1) or ID",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.withStore(cmd.Context(), func(ctx context.Context, s imageStore) error {
				images, err := s.ListImages(ctx)
				if err != nil {
					return err
				}
				// Resolve every argument first, so that a typo removes nothing.
				refs := make([][]string, len(args))
				for i, arg := range args {
					if refs[i] = resolveImage(images, arg); refs[i] == nil {
						return fmt.Errorf("no such image %q", arg)
					}
				}
				for i, arg := range args {
					for _, ref := range refs[i] {
						if err := s.RemoveImage(ctx, ref); err != nil {
							return fmt.Errorf("removing %s: %w", ref, err)
						}
					}
					fmt.Fprintf(streams.Out, "Deleted: %s\n", arg)
				}
				return nil
			})
		},
	}
}

// socket is the containerd socket the commands use: the endpoint flag
// (a path or a unix:// URL, as kubelet's flag takes it), else the
// containerd `mini server` supervises for the data dir.
func (o *imageOptions) socket() (string, error) {
	if o.endpoint == "" {
		// internal/server keeps the node's state, containerd's included,
		// under <data-dir>/agent.
		return containerd.SocketPath(filepath.Join(o.dataDir, "agent")), nil
	}
	sock := strings.TrimPrefix(o.endpoint, "unix://")
	if strings.Contains(sock, "://") {
		return "", fmt.Errorf("--container-runtime-endpoint %q: only unix sockets are supported", o.endpoint)
	}
	return sock, nil
}

// withStore connects to containerd, runs fn and disconnects. A missing
// or dead socket gets one line saying what to do, not a gRPC error.
func (o *imageOptions) withStore(ctx context.Context, fn func(context.Context, imageStore) error) error {
	sock, err := o.socket()
	if err != nil {
		return err
	}
	hint := fmt.Sprintf("is `mini server --data-dir %s` running? (or pass --container-runtime-endpoint)", o.dataDir)
	if o.endpoint != "" {
		hint = "is containerd running there?"
	}
	if _, err := os.Stat(sock); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("image: no containerd at %s: %s", sock, hint)
	}
	rt, err := containerd.Dial(ctx, sock, containerd.DefaultNamespace)
	if err != nil {
		return fmt.Errorf("image: no containerd at %s: %s: %w", sock, hint, err)
	}
	defer rt.Close()
	return fn(ctx, rt)
}

// importImages imports every image in one tar (file, or standard input
// for "-") and says what it loaded, as `docker load` does.
func importImages(ctx context.Context, s imageStore, file string, streams Streams) error {
	var r io.Reader = streams.In
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	images, err := s.ImportImage(ctx, r)
	if err != nil {
		return fmt.Errorf("importing %s: %w", file, err)
	}
	if len(images) == 0 {
		return fmt.Errorf("importing %s: no image in it", file)
	}
	for _, img := range images {
		if len(img.RepoTags) == 0 {
			fmt.Fprintf(streams.Out, "Loaded image ID: %s\n", img.ID)
		}
		for _, tag := range img.RepoTags {
			fmt.Fprintf(streams.Out, "Loaded image: %s\n", tag)
		}
	}
	return nil
}

// truncatedIDLen is how much of an image ID crictl shows.
const truncatedIDLen = 13

// writeImageTable prints images with crictl's columns, one line per
// tag (or per digest for an untagged image), sorted by name.
func writeImageTable(w io.Writer, images []*runtime.Image) error {
	type row struct{ repo, tag, id, size string }
	var rows []row
	for _, img := range images {
		id := strings.TrimPrefix(img.ID, "sha256:")
		if len(id) > truncatedIDLen {
			id = id[:truncatedIDLen]
		}
		size := humanSize(img.Size)
		for _, t := range img.RepoTags {
			repo, tag := splitRepoTag(t)
			rows = append(rows, row{repo, tag, id, size})
		}
		if len(img.RepoTags) == 0 {
			repo := "<none>"
			if len(img.RepoDigests) > 0 {
				repo, _, _ = strings.Cut(img.RepoDigests[0], "@")
			}
			rows = append(rows, row{repo, "<none>", id, size})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].repo != rows[j].repo {
			return rows[i].repo < rows[j].repo
		}
		return rows[i].tag < rows[j].tag
	})
	tw := tabwriter.NewWriter(w, 20, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tTAG\tIMAGE ID\tSIZE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.repo, r.tag, r.id, r.size)
	}
	return tw.Flush()
}

// splitRepoTag splits "repo:tag" at the tag's colon, not a registry port's.
func splitRepoTag(s string) (repo, tag string) {
	i := strings.LastIndex(s, ":")
	if i < 0 || strings.Contains(s[i:], "/") {
		return s, "<none>"
	}
	return s[:i], s[i+1:]
}

// humanSize formats bytes in decimal units with three significant
// digits, as crictl (docker/go-units' HumanSizeWithPrecision) does.
func humanSize(n uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	size, i := float64(n), 0
	for size >= 1000 && i < len(units)-1 {
		size /= 1000
		i++
	}
	return fmt.Sprintf("%.*g%s", 3, size, units[i])
}

// resolveImage returns the names to remove for arg, or nil when no image
// matches. An ID (full, or a prefix of its hex as `ls` prints it) means
// the image under all its names; a name ("busybox" means
// docker.io/library/busybox:latest) means that one name.
func resolveImage(images []*runtime.Image, arg string) []string {
	hexArg := strings.TrimPrefix(arg, "sha256:")
	for _, img := range images {
		if img.ID == arg || (isHex(hexArg) && len(hexArg) >= 6 && strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), hexArg)) {
			names := append(append([]string{}, img.RepoTags...), img.RepoDigests...)
			if len(names) == 0 {
				names = []string{img.ID}
			}
			return names
		}
	}
	named, err := reference.ParseDockerRef(arg)
	if err != nil {
		return nil
	}
	want := named.String()
	for _, img := range images {
		for _, name := range append(append([]string{}, img.RepoTags...), img.RepoDigests...) {
			if name == want {
				return []string{name}
			}
		}
	}
	return nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return s != ""
}
