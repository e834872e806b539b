package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/pkg/cap"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"mini.dev/mini/internal/runtime"
)

// podCgroupRoot is the cgroup every pod's cgroup lives under.
const podCgroupRoot = "/mini"

// podCgroup is a pod's cgroup parent, as kubelet's /kubepods/pod<uid>.
func podCgroup(uid string) string { return filepath.Join(podCgroupRoot, "pod"+uid) }

// cgroupV2 reports whether the host runs the unified cgroup hierarchy.
func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// swapAccounting reports whether cgroup v1 accounts swap (memsw).
func swapAccounting() bool {
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil && !cgroupV2()
}

// removePodCgroup removes a removed pod's (empty) cgroup directories,
// which runc leaves behind as parents of the containers' cgroups.
func removePodCgroup(uid string) {
	if uid == "" {
		return
	}
	if cgroupV2() {
		_ = os.Remove(filepath.Join("/sys/fs/cgroup", podCgroup(uid)))
		return
	}
	ctrls, _ := os.ReadDir("/sys/fs/cgroup")
	for _, c := range ctrls {
		_ = os.Remove(filepath.Join("/sys/fs/cgroup", c.Name(), podCgroup(uid)))
	}
}

// containerOOMKilled reads the container cgroup's OOM-kill counter, a
// check beside containerd's /tasks/oom event, which may come late.
func containerOOMKilled(uid, id string) bool {
	path := filepath.Join("/sys/fs/cgroup", "memory", podCgroup(uid), id, "memory.oom_control")
	if cgroupV2() {
		path = filepath.Join("/sys/fs/cgroup", podCgroup(uid), id, "memory.events")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" && f[1] != "0" {
			return true
		}
	}
	return false
}

// processArgs applies Kubernetes' rules: command replaces the image's
// entrypoint (and drops its cmd), args replace the image's cmd.
func processArgs(img ocispec.ImageConfig, command, args []string) ([]string, error) {
	entry, cmd := img.Entrypoint, img.Cmd
	if len(command) > 0 {
		entry, cmd = command, nil
	}
	if len(args) > 0 {
		cmd = args
	}
	out := append(slices.Clone(entry), cmd...)
	if len(out) == 0 {
		return nil, errors.New("no command specified")
	}
	return out, nil
}

// specSandbox is what a container's spec takes from its sandbox.
type specSandbox struct {
	uid, hostname, netns string
	hostNetwork          bool
}

// containerSpecOpts builds a container's OCI spec on top of containerd's
// defaults and the image config: as containerd's CRI plugin does, minus
// what mini does not support (seccomp and AppArmor profiles, SELinux).
func containerSpecOpts(id string, img ocispec.ImageConfig, sb specSandbox, cfg *runtime.ContainerConfig) ([]oci.SpecOpts, error) {
	args, err := processArgs(img, cfg.Command, cfg.Args)
	if err != nil {
		return nil, err
	}
	env := make([]string, 0, len(cfg.Env))
	for _, kv := range cfg.Env {
		env = append(env, kv.Key+"="+kv.Value)
	}
	opts := []oci.SpecOpts{
		withImageConfig(img),
		oci.WithProcessArgs(args...),
		oci.WithEnv(env),
		oci.WithHostname(sb.hostname),
		oci.WithCgroup(filepath.Join(podCgroup(sb.uid), id)),
		oci.WithAnnotations(cfg.Annotations),
	}
	if cfg.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(cfg.WorkingDir))
	}
	mounted := map[string]bool{}
	var mounts []specs.Mount
	for _, m := range cfg.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		mounted[m.ContainerPath] = true
		mounts = append(mounts, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: m.HostPath,
			Options: []string{"rbind", "rprivate", mode}})
	}
	opts = append(opts, oci.WithMounts(mounts))
	if sb.hostNetwork {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace))
		if !mounted["/etc/hosts"] {
			opts = append(opts, oci.WithHostHostsFile)
		}
		if !mounted["/etc/resolv.conf"] {
			opts = append(opts, oci.WithHostResolvconf)
		}
	} else {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: sb.netns}))
	}
	opts = append(opts, resourceOpts(cfg.Resources)...)
	opts = append(opts, securityOpts(cfg.Security)...)
	if cfg.TTY {
		opts = append(opts, oci.WithTTY)
	}
	return opts, nil
}

// withImageConfig takes env, working directory and user from the image
// (its entrypoint and cmd go through processArgs).
func withImageConfig(img ocispec.ImageConfig) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		s.Process.Env = append(s.Process.Env[:0:0], s.Process.Env...)
		if err := oci.WithEnv(img.Env)(ctx, client, c, s); err != nil {
			return err
		}
		s.Process.Cwd = "/"
		if img.WorkingDir != "" {
			s.Process.Cwd = img.WorkingDir
		}
		if img.User != "" {
			return oci.WithUser(img.User)(ctx, client, c, s)
		}
		return nil
	}
}

// cpuSharesToWeight converts cgroup v1 cpu.shares [2, 262144] to cgroup v2
// cpu.weight [1, 10000], the formula runc and kubelet use.
func cpuSharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	return 1 + ((shares-2)*9999)/262142
}

func resourceOpts(res runtime.Resources) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if res.MemoryLimitInBytes > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(res.MemoryLimitInBytes)))
		// As containerd's CRI plugin: no swap beyond the limit, so that
		// the limit ends in an OOM kill rather than swapping.
		if swapAccounting() {
			opts = append(opts, oci.WithMemorySwap(res.MemoryLimitInBytes))
		}
	}
	if res.CPUQuota > 0 {
		opts = append(opts, oci.WithCPUCFS(res.CPUQuota, uint64(res.CPUPeriod)))
	}
	if res.CPUShares > 0 {
		if cgroupV2() {
			weight := cpuSharesToWeight(uint64(res.CPUShares))
			opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
				if s.Linux.Resources.Unified == nil {
					s.Linux.Resources.Unified = map[string]string{}
				}
				s.Linux.Resources.Unified["cpu.weight"] = fmt.Sprint(weight)
				return nil
			})
		} else {
			opts = append(opts, oci.WithCPUShares(uint64(res.CPUShares)))
		}
	}
	return opts
}

func securityOpts(sec *runtime.SecurityConfig) []oci.SpecOpts {
	if sec == nil {
		return nil
	}
	var opts []oci.SpecOpts
	if sec.RunAsUser != nil {
		opts = append(opts, oci.WithUserID(uint32(*sec.RunAsUser)))
	}
	if sec.RunAsGroup != nil || len(sec.SupplementalGroups) > 0 {
		gid, groups := sec.RunAsGroup, sec.SupplementalGroups
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			if gid != nil {
				s.Process.User.GID = uint32(*gid)
			}
			for _, g := range groups {
				if !slices.Contains(s.Process.User.AdditionalGids, uint32(g)) {
					s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
				}
			}
			return nil
		})
	}
	if sec.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	} else {
		opts = append(opts, withCapabilities(sec.AddCapabilities, sec.DropCapabilities))
	}
	if sec.ReadOnlyRootFS {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if sec.NoNewPrivileges {
		opts = append(opts, oci.WithNoNewPrivileges)
	}
	return opts
}

// withCapabilities applies a pod's capabilities add/drop lists as
// containerd's CRI plugin does: drop first (ALL empties the set), then
// add (ALL grants every capability the kernel knows).
func withCapabilities(add, drop []string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process.Capabilities == nil {
			s.Process.Capabilities = &specs.LinuxCapabilities{}
		}
		c := s.Process.Capabilities
		sets := []*[]string{&c.Bounding, &c.Effective, &c.Permitted}
		for _, d := range drop {
			name := capName(d)
			for _, set := range append(sets, &c.Inheritable, &c.Ambient) {
				*set = slices.DeleteFunc(*set, func(x string) bool { return name == "CAP_ALL" || x == name })
			}
		}
		for _, a := range add {
			names := []string{capName(a)}
			if names[0] == "CAP_ALL" {
				names = cap.Known()
			}
			for _, set := range sets {
				for _, n := range names {
					if !slices.Contains(*set, n) {
						*set = append(*set, n)
					}
				}
			}
		}
		return nil
	}
}

// capName turns a pod spec's "NET_ADMIN" into "CAP_NET_ADMIN".
func capName(s string) string {
	s = strings.ToUpper(s)
	if strings.HasPrefix(s, "CAP_") {
		return s
	}
	return "CAP_" + s
}
