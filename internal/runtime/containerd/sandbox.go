package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
	"time"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"mini.dev/mini/internal/runtime"
)

// newID returns 64 hex digits, the shape of containerd's IDs.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RunPodSandbox implements runtime.Runtime: the pod's network namespace
// (unless it uses the host's) and a task-less record describing the pod.
func (r *Runtime) RunPodSandbox(ctx context.Context, cfg *runtime.PodSandboxConfig) (_ string, retErr error) {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return "", err
	}
	if cfg == nil {
		return "", fmt.Errorf("containerd: nil sandbox config: %w", runtime.ErrInvalidState)
	}
	id := newID()
	var netnsPath string
	if !cfg.HostNetwork {
		if r.cfg.Network == nil {
			return "", errors.New("containerd: no pod network configured: only hostNetwork pods can run")
		}
		netnsPath, err = r.cfg.Network.Setup(ctx, id, cfg.IPs, cfg.PortMappings)
		if err != nil {
			// Setup may fail halfway; the next attempt has another ID, so
			// what it made goes now.
			_ = r.cfg.Network.Teardown(context.WithoutCancel(ctx), id)
			return "", fmt.Errorf("containerd: setting up the network of pod %s/%s: %w", cfg.Namespace, cfg.Name, err)
		}
		defer func() {
			if retErr != nil {
				_ = r.cfg.Network.Teardown(context.WithoutCancel(ctx), id)
			}
		}()
	}
	if cfg.LogDirectory != "" {
		if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
			return "", fmt.Errorf("containerd: log directory: %w", err)
		}
	}
	labels := maps.Clone(cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, map[string]string{
		labelKind: kindSandbox, labelName: cfg.Name, labelNamespace: cfg.Namespace, labelUID: cfg.UID,
		labelAttempt: strconv.FormatUint(uint64(cfg.Attempt), 10), labelCreated: formatTime(time.Now()),
		labelState: string(runtime.SandboxReady), labelIPs: strings.Join(cfg.IPs, ","), labelNetNS: netnsPath,
		labelHostNetwork: strconv.FormatBool(cfg.HostNetwork), labelHostname: cfg.Hostname, labelLogDir: cfg.LogDirectory,
	})
	// The record needs a spec; it carries the pod's annotations, which
	// may be larger than a label may be.
	spec := &oci.Spec{Version: specs.Version, Annotations: maps.Clone(cfg.Annotations)}
	if _, err := client.NewContainer(nctx, id, ctrd.WithContainerLabels(labels),
		ctrd.WithRuntime(runcRuntime, nil), ctrd.WithSpec(spec)); err != nil {
		return "", fmt.Errorf("containerd: creating sandbox record: %w", err)
	}
	return id, nil
}

// sandboxRecord returns a sandbox's record.
func (r *Runtime) sandboxRecord(ctx context.Context, id string) (*containers.Container, error) {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := client.ContainerService().Get(nctx, id)
	if errdefs.IsNotFound(err) || err == nil && rec.Labels[labelKind] != kindSandbox {
		return nil, fmt.Errorf("containerd: sandbox %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("containerd: sandbox %s: %w", id, err)
	}
	return &rec, nil
}

// StopPodSandbox implements runtime.Runtime.
func (r *Runtime) StopPodSandbox(ctx context.Context, id string) error {
	rec, err := r.sandboxRecord(ctx, id)
	if err != nil {
		return err
	}
	cs, err := r.ListContainers(ctx, &runtime.ContainerFilter{SandboxID: id})
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.State == runtime.ContainerRunning {
			if err := r.StopContainer(ctx, c.ID, 0); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				return err
			}
		}
	}
	if rec.Labels[labelHostNetwork] != "true" && r.cfg.Network != nil {
		if err := r.cfg.Network.Teardown(ctx, id); err != nil {
			return fmt.Errorf("containerd: tearing down the network of sandbox %s: %w", id, err)
		}
	}
	if rec.Labels[labelState] != string(runtime.SandboxNotReady) {
		return r.setLabels(ctx, id, map[string]string{labelState: string(runtime.SandboxNotReady)})
	}
	return nil
}

// RemovePodSandbox implements runtime.Runtime.
func (r *Runtime) RemovePodSandbox(ctx context.Context, id string) error {
	rec, err := r.sandboxRecord(ctx, id)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec.Labels[labelState] != string(runtime.SandboxNotReady) {
		if err := r.StopPodSandbox(ctx, id); err != nil {
			return err
		}
	}
	cs, err := r.ListContainers(ctx, &runtime.ContainerFilter{SandboxID: id})
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := r.removeContainer(ctx, c.ID, true); err != nil {
			return err
		}
	}
	client, nctx, _ := r.conn(ctx)
	if err := client.ContainerService().Delete(nctx, id); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containerd: removing sandbox %s: %w", id, err)
	}
	removePodCgroup(rec.Labels[labelUID])
	r.mu.Lock()
	delete(r.annotations, id)
	r.mu.Unlock()
	return nil
}

// PodSandboxStatus implements runtime.Runtime.
func (r *Runtime) PodSandboxStatus(ctx context.Context, id string) (*runtime.PodSandbox, error) {
	rec, err := r.sandboxRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.sandboxFromRecord(rec), nil
}

// ListPodSandboxes implements runtime.Runtime.
func (r *Runtime) ListPodSandboxes(ctx context.Context, f *runtime.SandboxFilter) ([]*runtime.PodSandbox, error) {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	filter := sandboxFilter
	if f != nil && f.ID != "" {
		filter += ",id==" + f.ID
	}
	recs, err := client.ContainerService().List(nctx, filter)
	if err != nil {
		return nil, fmt.Errorf("containerd: listing sandboxes: %w", err)
	}
	var out []*runtime.PodSandbox
	for i := range recs {
		sb := r.sandboxFromRecord(&recs[i])
		if f != nil && (f.State != "" && f.State != sb.State || !runtime.MatchLabels(f.LabelSelector, sb.Labels)) {
			continue
		}
		out = append(out, sb)
	}
	return out, nil
}

func (r *Runtime) sandboxFromRecord(rec *containers.Container) *runtime.PodSandbox {
	l := rec.Labels
	return &runtime.PodSandbox{
		ID: rec.ID, Name: l[labelName], Namespace: l[labelNamespace], UID: l[labelUID],
		Attempt: parseUint32(l[labelAttempt]), State: runtime.SandboxState(l[labelState]),
		CreatedAt: parseTime(l[labelCreated]), IPs: splitList(l[labelIPs]),
		Labels: userLabels(l), Annotations: r.cachedAnnotations(rec), NetNSPath: l[labelNetNS],
	}
}

// cachedAnnotations returns a record's annotations, decoding its spec only
// the first time.
func (r *Runtime) cachedAnnotations(rec *containers.Container) map[string]string {
	r.mu.Lock()
	a, ok := r.annotations[rec.ID]
	r.mu.Unlock()
	if !ok {
		a = specAnnotations(rec)
		r.mu.Lock()
		r.annotations[rec.ID] = a
		r.mu.Unlock()
	}
	return maps.Clone(a)
}

// setLabels updates some of a record's labels.
func (r *Runtime) setLabels(ctx context.Context, id string, labels map[string]string) error {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return err
	}
	rec := containers.Container{ID: id, Labels: labels}
	paths := make([]string, 0, len(labels))
	for k := range labels {
		paths = append(paths, "labels."+k)
	}
	if _, err := client.ContainerService().Update(nctx, rec, paths...); err != nil {
		if errdefs.IsNotFound(err) {
			return fmt.Errorf("containerd: %s: %w", id, runtime.ErrNotFound)
		}
		return fmt.Errorf("containerd: updating %s: %w", id, err)
	}
	return nil
}
