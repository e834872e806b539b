package noderole

// A kernel without nf_tables or VXLAN fails deep inside the pod network
// or the overlay with a netlink error no user can act on; CheckKernel
// says so before the node starts. A module only needs to exist: netlink
// loads it on first use, so a module present but not loaded is fine.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"mini.dev/mini/internal/network/overlay"
)

// KernelModules says where the running kernel's modules are described;
// the zero value reads the host's (/sys/module and
// /lib/modules/$(uname -r)). Tests point them at a fake tree.
type KernelModules struct {
	// SysModule lists the loaded modules (and built-in ones that have
	// parameters).
	SysModule string
	// ModulesDir holds modules.builtin and modules.dep.
	ModulesDir string
}

func (k KernelModules) withDefaults() KernelModules {
	if k.SysModule == "" {
		k.SysModule = "/sys/module"
	}
	if k.ModulesDir == "" {
		var u unix.Utsname
		if err := unix.Uname(&u); err == nil {
			k.ModulesDir = filepath.Join("/lib/modules", unix.ByteSliceToString(u.Release[:]))
		}
	}
	return k
}

// CheckKernel fails when the kernel lacks what the node's network needs:
// nf_tables always (the pod network's masquerading and the service
// proxy), vxlan with the vxlan backend. A kernel whose modules cannot be
// listed (no /lib/modules, as in some containers) passes: not knowing is
// no reason to refuse.
func CheckKernel(n NetworkConfig, k KernelModules) error {
	k = k.withDefaults()
	if err := k.require("nf_tables"); err != nil {
		return fmt.Errorf("this kernel has no nftables support (%w): mini's pod network and service proxy need it; use a kernel built with CONFIG_NF_TABLES (Debian's and Ubuntu's are)", err)
	}
	if !n.DisableOverlay && (n.FlannelBackend == "" || n.FlannelBackend == overlay.BackendVXLAN) {
		if err := k.require("vxlan"); err != nil {
			return fmt.Errorf("this kernel has no VXLAN support (%w): use --flannel-backend host-gw (nodes on one network) or none", err)
		}
	}
	return nil
}

// errUnknown says the kernel's modules could not be listed.
var errUnknown = errors.New("modules unknown")

// require returns an error naming where it looked when module is neither
// loaded, built in nor available to load.
func (k KernelModules) require(module string) error {
	if _, err := os.Stat(filepath.Join(k.SysModule, module)); err == nil {
		return nil
	}
	found, err := k.listed(module)
	if found || errors.Is(err, errUnknown) {
		return nil
	}
	return fmt.Errorf("module %s not found in %s", module, k.ModulesDir)
}

// listed says whether modules.builtin or modules.dep names module.
func (k KernelModules) listed(module string) (bool, error) {
	if k.ModulesDir == "" {
		return false, errUnknown
	}
	seen := 0
	for _, name := range []string{"modules.builtin", "modules.dep"} {
		f, err := os.Open(filepath.Join(k.ModulesDir, name))
		if err != nil {
			continue
		}
		seen++
		found := false
		s := bufio.NewScanner(f)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() && !found {
			// "kernel/net/netfilter/nf_tables.ko" or, in modules.dep,
			// "kernel/drivers/net/vxlan/vxlan.ko.xz: deps..."
			path, _, _ := strings.Cut(s.Text(), ":")
			found = moduleName(path) == module
		}
		f.Close()
		if found {
			return true, nil
		}
	}
	if seen == 0 {
		return false, errUnknown
	}
	return false, nil
}

// moduleName is the module a .ko path holds, with '-' as '_' (the kernel
// treats them alike in module names).
func moduleName(path string) string {
	base := filepath.Base(strings.TrimSpace(path))
	i := strings.Index(base, ".ko")
	if i < 0 {
		return ""
	}
	return strings.ReplaceAll(base[:i], "-", "_")
}
