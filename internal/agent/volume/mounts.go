package volume

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/agent/envvars"
	"mini.dev/mini/internal/runtime"
)

// containerMounts turns each container's volumeMounts into runtime
// mounts; a subPath or subPathExpr is opened safely inside the volume and
// bind-mounted under the pod directory (subpath.go).
func (m *Manager) containerMounts(ctx context.Context, pod *corev1.Pod, paths map[string]string, readOnly map[string]bool) (map[string][]runtime.Mount, error) {
	out := map[string][]runtime.Mount{}
	var errs []error
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			c := &list[i]
			mounts := make([]runtime.Mount, 0, len(c.VolumeMounts))
			var env map[string]string
			for idx, vm := range c.VolumeMounts {
				host, ok := paths[vm.Name]
				if !ok {
					errs = append(errs, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, c.Name))
					continue
				}
				sub := vm.SubPath
				if vm.SubPathExpr != "" {
					if env == nil {
						var err error
						if env, err = m.containerEnv(ctx, pod, c); err != nil {
							errs = append(errs, err)
							continue
						}
					}
					var err error
					if sub, err = expandSubPath(vm.SubPathExpr, env); err != nil {
						errs = append(errs, err)
						continue
					}
				}
				if sub != "" {
					var err error
					target := m.subPathTarget(pod.UID, vm.Name, c.Name, idx)
					if host, err = prepareSubPath(host, sub, target); err != nil {
						errs = append(errs, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q: %w", vm.Name, c.Name, err))
						continue
					}
				}
				mounts = append(mounts, runtime.Mount{
					ContainerPath: vm.MountPath,
					HostPath:      host,
					ReadOnly:      vm.ReadOnly || readOnly[vm.Name],
				})
			}
			out[c.Name] = mounts
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// containerEnv is the container's environment, which subPathExpr reads.
func (m *Manager) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (map[string]string, error) {
	kvs, err := envvars.Resolve(ctx, pod, c, podIPs(pod), m.node(pod), m.cfg.Getter)
	if err != nil {
		return nil, err
	}
	env := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		env[kv.Key] = kv.Value
	}
	return env, nil
}

// expandSubPath is kubelet's ExpandContainerVolumeMounts: every $(VAR)
// must have a non-empty value.
func expandSubPath(expr string, env map[string]string) (string, error) {
	missing := map[string]bool{}
	out := envvars.Expand(expr, func(k string) string {
		v := env[k]
		if v == "" {
			missing[k] = true
		}
		return v
	})
	if len(missing) > 0 {
		keys := make([]string, 0, len(missing))
		for k := range missing {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "", fmt.Errorf("missing value for %s", strings.Join(keys, ", "))
	}
	return out, nil
}

// unmountUnder unmounts every mount at or below dir, deepest first, so
// that removing dir never reaches into a mounted filesystem.
func unmountUnder(dir string) error {
	// mountinfo names mount points by their resolved paths.
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	} else if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	prefix := filepath.Clean(dir) + "/"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountPath(fields[4])
		if p == filepath.Clean(dir) || strings.HasPrefix(p, prefix) {
			points = append(points, p)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", p, err)
		}
	}
	return nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
