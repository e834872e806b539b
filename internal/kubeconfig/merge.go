package kubeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"mini.dev/mini/internal/pki"
)

// BackupSuffix is added to a kubeconfig's path for the copy of the file
// as it was before Merge or Remove last changed it.
const BackupSuffix = ".mini-backup"

// ErrNoContext is returned by Merge when the source kubeconfig has no
// current context to take.
var ErrNoContext = errors.New("kubeconfig: the source has no current context")

// File is a user's kubeconfig file.
type File struct {
	Path string
	// Owner, when set, owns what is written (root writing for the user
	// who ran sudo); otherwise the writer does.
	Owner *Owner
}

// Owner is a file owner.
type Owner struct{ UID, GID int }

// Merge copies the current context of the kubeconfig at src, with its
// cluster and user, into the file under the given name, replacing
// entries of that name, and makes it the current context. Every other
// entry is kept. When the file existed and changes, its previous content
// is first written to Path+BackupSuffix, which is the path returned (""
// when no backup was needed).
func (f File) Merge(src, name string) (backup string, err error) {
	from, err := clientcmd.LoadFromFile(src)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", src, err)
	}
	ctx, ok := from.Contexts[from.CurrentContext]
	if !ok {
		return "", fmt.Errorf("%w (%s)", ErrNoContext, src)
	}
	cluster, user := from.Clusters[ctx.Cluster], from.AuthInfos[ctx.AuthInfo]
	if cluster == nil || user == nil {
		return "", fmt.Errorf("%s: context %q names a missing cluster or user", src, from.CurrentContext)
	}
	return f.edit(func(cfg *clientcmdapi.Config) {
		c := *ctx
		c.Cluster, c.AuthInfo = name, name
		cfg.Clusters[name], cfg.AuthInfos[name], cfg.Contexts[name] = cluster, user, &c
		cfg.CurrentContext = name
	})
}

// Remove takes the context, cluster and user called name out of the
// file; the current context is cleared if it was that one (kind does the
// same). A missing file is not an error.
func (f File) Remove(name string) (backup string, err error) {
	if _, err := os.Stat(f.Path); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return f.edit(func(cfg *clientcmdapi.Config) {
		delete(cfg.Clusters, name)
		delete(cfg.AuthInfos, name)
		delete(cfg.Contexts, name)
		if cfg.CurrentContext == name {
			cfg.CurrentContext = ""
		}
	})
}

// edit loads the file (or an empty config), applies change and writes
// the file back atomically, keeping its mode, after backing the old
// content up.
func (f File) edit(change func(*clientcmdapi.Config)) (string, error) {
	dst := f.Path
	old, err := os.ReadFile(dst)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	cfg := clientcmdapi.NewConfig()
	mode := os.FileMode(0o600)
	if exists {
		if cfg, err = clientcmd.Load(old); err != nil {
			return "", fmt.Errorf("reading %s: %w", dst, err)
		}
		if st, err := os.Stat(dst); err == nil {
			mode = st.Mode().Perm()
		}
	}
	change(cfg)
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return "", fmt.Errorf("rendering %s: %w", dst, err)
	}
	if exists && bytes.Equal(b, old) {
		return "", nil
	}
	backup := ""
	if exists {
		backup = dst + BackupSuffix
		if err := f.write(backup, old, 0o600); err != nil {
			return "", fmt.Errorf("backing up %s: %w", dst, err)
		}
	}
	if err := f.write(dst, b, mode); err != nil {
		return "", fmt.Errorf("writing %s: %w", dst, err)
	}
	return backup, nil
}

// write writes one file atomically, making its directory, both owned by
// Owner when set.
func (f File) write(path string, b []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if f.Owner != nil {
			if err := os.Chown(dir, f.Owner.UID, f.Owner.GID); err != nil {
				return err
			}
		}
	}
	if err := pki.WriteFileAtomic(path, b, mode); err != nil {
		return err
	}
	if f.Owner != nil {
		return os.Chown(path, f.Owner.UID, f.Owner.GID)
	}
	return nil
}

// DefaultPath is the kubeconfig file kubectl writes to: the first file
// of $KUBECONFIG, else ~/.kube/config under home.
func DefaultPath(kubeconfigEnv, home string) string {
	for _, p := range filepath.SplitList(kubeconfigEnv) {
		if p != "" {
			return p
		}
	}
	return filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)
}
