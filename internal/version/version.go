// Package version tells which mini this is and which Kubernetes it speaks,
// from the build information the Go toolchain embeds: no linker flags needed.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	apiversion "k8s.io/apimachinery/pkg/version"
)

// kubeModule is the module whose version (v0.X.Y) names the Kubernetes
// release (v1.X.Y) whose API mini serves.
const kubeModule = "k8s.io/apimachinery"

// Get returns this build's version in the shape of the API's /version.
// GitVersion is the Kubernetes version with "+mini" as build metadata, as
// k3s does, so clients that compare versions see the release they expect.
func Get() apiversion.Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) apiversion.Info {
	info := apiversion.Info{
		GitVersion:   "v0.0.0+mini",
		GitTreeState: "unknown",
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi == nil {
		return info
	}
	for _, dep := range bi.Deps {
		if dep.Path != kubeModule {
			continue
		}
		var minor, patch int
		if _, err := fmt.Sscanf(dep.Version, "v0.%d.%d", &minor, &patch); err == nil {
			info.Major, info.Minor = "1", fmt.Sprint(minor)
			info.GitVersion = fmt.Sprintf("v1.%d.%d+mini", minor, patch)
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.GitCommit = s.Value
		case "vcs.time":
			info.BuildDate = s.Value
		case "vcs.modified":
			info.GitTreeState = map[string]string{"true": "dirty", "false": "clean"}[s.Value]
		}
	}
	return info
}

// Mini is mini's own version: the module version when built from a tagged
// module, else the commit it was built from.
func Mini() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	commit := Get().GitCommit
	if commit == "" {
		return "devel"
	}
	return "devel-" + commit[:min(12, len(commit))] + strings.TrimSuffix("-"+Get().GitTreeState, "-clean")
}
