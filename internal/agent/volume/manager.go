package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"mini.dev/mini/internal/agent/envvars"
	"mini.dev/mini/internal/runtime"
)

// Config says where pods' volumes live and where their sources come from.
type Config struct {
	// Client requests service-account tokens (TokenRequest API).
	Client kubernetes.Interface
	// Getter reads ConfigMaps and Secrets; its cache bounds how late a
	// change reaches the files (keep its TTL at a second or two).
	Getter envvars.Getter
	// RootDir holds RootDir/pods/<uid>/volumes/<plugin>/<name> and the
	// pod's etc files.
	RootDir  string
	NodeName string
	// Node describes the node for downwardAPI volumes and subPathExpr
	// (host IPs, allocatable); nil: the name only, host IPs from the
	// pod's status.
	Node   func() envvars.Node
	Logger *slog.Logger
	// OnChange is called when a mounted volume's files changed because
	// their source did (the agent resyncs the pod).
	OnChange func(podUID types.UID)
	// Resync is how often the sources of mounted volumes are re-read
	// (default 2 s).
	Resync time.Duration
}

// Manager materialises pods' volumes on the node and keeps those with
// sources (configMap, secret, downwardAPI, projected) up to date.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	tokens *tokens

	mu   sync.Mutex
	pods map[types.UID]*podVolumes
}

// podVolumes is what the manager knows of a pod it set up. Its mutex
// orders SetUp, the refresh and TearDown for that pod.
type podVolumes struct {
	mu       sync.Mutex
	pod      *corev1.Pod
	emptyDir map[string]bool   // emptyDirs already set up (ownership done)
	claims   map[string]string // persistentVolumeClaim volumes: their paths
	gone     bool
}

// Plugin directory names, as kubelet's.
const (
	emptyDirPlugin    = "kubernetes.io~empty-dir"
	configMapPlugin   = "kubernetes.io~configmap"
	secretPlugin      = "kubernetes.io~secret"
	downwardAPIPlugin = "kubernetes.io~downward-api"
	projectedPlugin   = "kubernetes.io~projected"
)

// New returns a Manager; nothing runs until Run.
func New(cfg Config) (*Manager, error) {
	if cfg.RootDir == "" {
		return nil, errors.New("volume: RootDir is required")
	}
	root, err := filepath.Abs(cfg.RootDir)
	if err != nil {
		return nil, err
	}
	cfg.RootDir = root
	if cfg.Getter == nil {
		if cfg.Client == nil {
			return nil, errors.New("volume: Getter or Client is required")
		}
		cfg.Getter = envvars.NewCachedGetter(cfg.Client, time.Second)
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 2 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{
		cfg:    cfg,
		log:    log.With("component", "volume"),
		tokens: newTokens(cfg.Client),
		pods:   map[types.UID]*podVolumes{},
	}, nil
}

// Run re-reads the sources of mounted volumes every Resync until ctx
// ends, rewriting files that changed and calling OnChange.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.refreshAll(ctx)
		}
	}
}

func (m *Manager) refreshAll(ctx context.Context) {
	// A hung API call must not stall every later refresh.
	ctx, cancel := context.WithTimeout(ctx, max(5*m.cfg.Resync, 10*time.Second))
	defer cancel()
	m.mu.Lock()
	pods := make([]*podVolumes, 0, len(m.pods))
	for _, p := range m.pods {
		pods = append(pods, p)
	}
	m.mu.Unlock()
	for _, p := range pods {
		if uid, changed := m.refresh(ctx, p); changed && m.cfg.OnChange != nil {
			m.cfg.OnChange(uid)
		}
	}
}

// refresh rewrites the pod's source-backed volumes. A source that cannot
// be read now leaves the files as they are, as kubelet does.
func (m *Manager) refresh(ctx context.Context, p *podVolumes) (types.UID, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return "", false
	}
	pod := p.pod
	changed := false
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		plugin := contentPlugin(v)
		if plugin == "" {
			continue
		}
		c, err := m.writeContent(ctx, pod, v, plugin)
		if err != nil {
			m.log.Debug("refreshing volume failed", "pod", pod.Namespace+"/"+pod.Name, "volume", v.Name, "err", err)
			continue
		}
		if c {
			m.log.Info("volume updated from its source", "pod", pod.Namespace+"/"+pod.Name, "volume", v.Name)
		}
		changed = changed || c
	}
	return pod.UID, changed
}

// SetUp materialises every volume of pod and returns, per container name
// (init containers included), the mounts for its volumeMounts. It is
// idempotent and meant to be called on every pod sync. Errors read as
// kubelet's FailedMount events: `MountVolume.SetUp failed for volume
// "v" : configmap "x" not found`.
func (m *Manager) SetUp(ctx context.Context, pod *corev1.Pod) (map[string][]runtime.Mount, error) {
	m.mu.Lock()
	p := m.pods[pod.UID]
	if p == nil {
		p = &podVolumes{emptyDir: map[string]bool{}, claims: map[string]string{}}
		m.pods[pod.UID] = p
	}
	m.mu.Unlock()

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return nil, fmt.Errorf("pod %s/%s is being torn down", pod.Namespace, pod.Name)
	}
	p.pod = pod
	paths := map[string]string{}
	readOnly := map[string]bool{}
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		path, ro, err := m.setUpVolume(ctx, p, pod, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err))
			continue
		}
		paths[v.Name], readOnly[v.Name] = path, ro
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m.containerMounts(ctx, pod, paths, readOnly)
}

// setUpVolume returns the volume's host path and whether containers must
// see it read-only.
func (m *Manager) setUpVolume(ctx context.Context, p *podVolumes, pod *corev1.Pod, v *corev1.Volume) (string, bool, error) {
	switch {
	case v.EmptyDir != nil:
		dir := m.volumeDir(pod.UID, emptyDirPlugin, v.Name)
		if p.emptyDir[v.Name] {
			return dir, false, nil
		}
		if err := setUpEmptyDir(dir, v.EmptyDir, fsGroup(pod), fsGroupPolicy(pod)); err != nil {
			return "", false, err
		}
		p.emptyDir[v.Name] = true
		return dir, false, nil
	case v.HostPath != nil:
		if err := checkHostPathType(v.HostPath.Path, v.HostPath.Type); err != nil {
			return "", false, err
		}
		return v.HostPath.Path, false, nil
	case v.PersistentVolumeClaim != nil:
		path, err := m.setUpClaim(ctx, p, pod, v)
		return path, v.PersistentVolumeClaim.ReadOnly, err
	}
	plugin := contentPlugin(v)
	if plugin == "" {
		return "", false, fmt.Errorf("unsupported volume type")
	}
	// Kubelet mounts these read-only since CVE-2017-1002102.
	_, err := m.writeContent(ctx, pod, v, plugin)
	return m.volumeDir(pod.UID, plugin, v.Name), true, err
}

// contentPlugin names the plugin of a volume whose files the manager
// writes from sources, or "" for other volumes.
func contentPlugin(v *corev1.Volume) string {
	switch {
	case v.ConfigMap != nil:
		return configMapPlugin
	case v.Secret != nil:
		return secretPlugin
	case v.DownwardAPI != nil:
		return downwardAPIPlugin
	case v.Projected != nil:
		return projectedPlugin
	}
	return ""
}

// writeContent computes a content volume's files and writes them
// atomically. Secret, downwardAPI and projected volumes live on a tmpfs
// (kubelet's memory-backed wrapper) so that secrets never touch the disk;
// where mounting is not allowed they fall back to a plain directory.
func (m *Manager) writeContent(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, plugin string) (bool, error) {
	payload, err := m.payload(ctx, pod, v)
	if err != nil {
		return false, err
	}
	dir := m.volumeDir(pod.UID, plugin, v.Name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return false, err
	}
	if plugin != configMapPlugin {
		if err := ensureTmpfs(dir, ""); err != nil {
			m.log.Debug("volume on disk: no tmpfs", "volume", v.Name, "err", err)
		}
	}
	return writeAtomic(dir, payload, fsGroup(pod))
}

// TearDown unmounts and removes everything the manager made for a pod:
// its volumes and its etc files. Host paths are never touched.
func (m *Manager) TearDown(podUID types.UID) error {
	m.mu.Lock()
	p := m.pods[podUID]
	delete(m.pods, podUID)
	m.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		p.gone = true
		p.mu.Unlock()
	}
	m.tokens.forget(podUID)
	dir := m.podDir(podUID)
	if err := unmountUnder(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// PodUIDs lists the pods that have a directory under RootDir, so that
// the agent can tear down those it no longer runs (after a restart).
func (m *Manager) PodUIDs() ([]types.UID, error) {
	entries, err := os.ReadDir(filepath.Join(m.cfg.RootDir, "pods"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []types.UID
	for _, e := range entries {
		// The agent's log directories (<ns>_<name>_<uid>) share pods/.
		if e.IsDir() && isUID(e.Name()) {
			out = append(out, types.UID(e.Name()))
		}
	}
	return out, nil
}

func (m *Manager) podDir(uid types.UID) string {
	return filepath.Join(m.cfg.RootDir, "pods", string(uid))
}

func (m *Manager) volumeDir(uid types.UID, plugin, name string) string {
	return filepath.Join(m.podDir(uid), "volumes", plugin, name)
}

// node describes the node for the downward API.
func (m *Manager) node(pod *corev1.Pod) envvars.Node {
	var n envvars.Node
	if m.cfg.Node != nil {
		n = m.cfg.Node()
	}
	if n.Name == "" {
		n.Name = m.cfg.NodeName
	}
	if n.HostIP == "" && len(n.HostIPs) == 0 {
		for _, ip := range pod.Status.HostIPs {
			n.HostIPs = append(n.HostIPs, ip.IP)
		}
		n.HostIP = pod.Status.HostIP
	}
	return n
}

func podIPs(pod *corev1.Pod) []string {
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = []string{pod.Status.PodIP}
	}
	return ips
}

func fsGroup(pod *corev1.Pod) *int64 {
	if sc := pod.Spec.SecurityContext; sc != nil {
		return sc.FSGroup
	}
	return nil
}

func fsGroupPolicy(pod *corev1.Pod) *corev1.PodFSGroupChangePolicy {
	if sc := pod.Spec.SecurityContext; sc != nil {
		return sc.FSGroupChangePolicy
	}
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// isUID accepts the 8-4-4-4-12 hex form the API server gives pods.
func isUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
				return false
			}
		}
	}
	return true
}
