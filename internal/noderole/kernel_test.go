package noderole

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckKernel(t *testing.T) {
	for _, tc := range []struct {
		name         string
		loaded       []string // under /sys/module
		builtin, dep string   // "" = file missing
		net          NetworkConfig
		noModulesDir bool
		wantErr      string
	}{
		{name: "both loaded", loaded: []string{"nf_tables", "vxlan"}, builtin: "\n", dep: "\n"},
		{name: "built in and a module to load", builtin: "kernel/net/netfilter/nf_tables.ko\n",
			dep: "kernel/drivers/net/vxlan/vxlan.ko.zst: kernel/net/ipv4/udp_tunnel.ko.zst\n"},
		{name: "no vxlan", builtin: "kernel/net/netfilter/nf_tables.ko\n", dep: "kernel/net/ipv4/udp_tunnel.ko: \n",
			wantErr: "this kernel has no VXLAN support (module vxlan not found in MODDIR): use --flannel-backend host-gw (nodes on one network) or none"},
		{name: "no vxlan, host-gw needs none", builtin: "kernel/net/netfilter/nf_tables.ko\n", dep: "\n",
			net: NetworkConfig{FlannelBackend: "host-gw"}},
		{name: "no vxlan, overlay disabled", builtin: "kernel/net/netfilter/nf_tables.ko\n", dep: "\n",
			net: NetworkConfig{DisableOverlay: true}},
		{name: "no nf_tables", loaded: []string{"vxlan"}, dep: "kernel/net/netfilter/x_tables.ko:\n",
			net:     NetworkConfig{FlannelBackend: "none"},
			wantErr: "this kernel has no nftables support (module nf_tables not found in MODDIR)"},
		{name: "modules unknown", noModulesDir: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			k := KernelModules{SysModule: filepath.Join(root, "sys"), ModulesDir: filepath.Join(root, "lib", "6.1.0-test")}
			for _, m := range tc.loaded {
				mustMkdir(t, filepath.Join(k.SysModule, m))
			}
			if !tc.noModulesDir {
				mustMkdir(t, k.ModulesDir)
				writeIf(t, filepath.Join(k.ModulesDir, "modules.builtin"), tc.builtin)
				writeIf(t, filepath.Join(k.ModulesDir, "modules.dep"), tc.dep)
			}
			err := CheckKernel(tc.net, k)
			want := strings.ReplaceAll(tc.wantErr, "MODDIR", k.ModulesDir)
			switch {
			case want == "" && err != nil:
				t.Fatalf("CheckKernel: %v", err)
			case want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)):
				t.Fatalf("CheckKernel: %v, want %q", err, want)
			}
		})
	}
}

func mustMkdir(t *testing.T, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeIf(t *testing.T, path, content string) {
	if content == "" {
		return
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/net/vxlan/vxlan.ko.xz": "vxlan",
		"kernel/net/netfilter/nf_tables.ko":    "nf_tables",
		"kernel/foo/nf-tables.ko.zst":          "nf_tables",
		"modules.order":                        "",
	} {
		if got := moduleName(in); got != want {
			t.Errorf("moduleName(%q) = %q, want %q", in, got, want)
		}
	}
}
