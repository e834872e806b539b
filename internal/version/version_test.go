package version

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	kube := func(v string) *debug.Module { return &debug.Module{Path: "k8s.io/apimachinery", Version: v} }
	tests := []struct {
		name                   string
		bi                     *debug.BuildInfo
		major, minor, git, cmt string
		tree                   string
	}{
		{"no build info", nil, "", "", "v0.0.0+mini", "", "unknown"},
		{"release", &debug.BuildInfo{Deps: []*debug.Module{{Path: "x"}, kube("v0.37.2")}}, "1", "37", "v1.37.2+mini", "", "unknown"},
		{"from git", &debug.BuildInfo{
			Deps:     []*debug.Module{kube("v0.38.0")},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}},
		}, "1", "38", "v1.38.0+mini", "abc123", "clean"},
		{"odd module version", &debug.BuildInfo{Deps: []*debug.Module{kube("v1.2.3")}}, "", "", "v0.0.0+mini", "", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromBuildInfo(tt.bi)
			if got.Major != tt.major || got.Minor != tt.minor || got.GitVersion != tt.git ||
				got.GitCommit != tt.cmt || got.GitTreeState != tt.tree {
				t.Errorf("got %+v", got)
			}
		})
	}
}

// TestBinaryReportsPinnedKubernetes builds the real binary: test binaries
// carry no dependency list, the shipped one must.
func TestBinaryReportsPinnedKubernetes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "mini")
	if out, err := exec.Command(goBin, "build", "-o", bin, "mini.dev/mini").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Kubernetes struct{ Major, Minor, GitVersion string }
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	// go.mod pins k8s.io/* at v0.37.x: Kubernetes v1.37.
	if v.Kubernetes.Major != "1" || v.Kubernetes.Minor != "37" {
		t.Fatalf("binary reports %+v, want Kubernetes 1.37", v.Kubernetes)
	}
}
