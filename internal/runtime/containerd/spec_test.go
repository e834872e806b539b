package containerd

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/oci"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestProcessArgs(t *testing.T) {
	img := ocispec.ImageConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"default"}}
	tests := []struct {
		name          string
		img           ocispec.ImageConfig
		command, args []string
		want          []string
		wantErr       bool
	}{
		{name: "image defaults", img: img, want: []string{"/entry", "default"}},
		{name: "args replace cmd", img: img, args: []string{"a"}, want: []string{"/entry", "a"}},
		{name: "command drops cmd", img: img, command: []string{"/bin/x"}, want: []string{"/bin/x"}},
		{name: "command and args", img: img, command: []string{"/bin/x"}, args: []string{"a"}, want: []string{"/bin/x", "a"}},
		{name: "cmd only image", img: ocispec.ImageConfig{Cmd: []string{"sh"}}, want: []string{"sh"}},
		{name: "nothing to run", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := processArgs(tt.img, tt.command, tt.args)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Fatalf("processArgs = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestNormalizeImage(t *testing.T) {
	tests := map[string]string{
		"busybox":                      "docker.io/library/busybox:latest",
		"busybox:1.36":                 "docker.io/library/busybox:1.36",
		"example.com:5000/team/app:v1": "example.com:5000/team/app:v1",
		"ghcr.io/x/y":                  "ghcr.io/x/y:latest",
	}
	for in, want := range tests {
		if got, err := normalizeImage(in); err != nil || got != want {
			t.Errorf("normalizeImage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := normalizeImage("Busybox"); err == nil {
		t.Error("an invalid reference was accepted")
	}
	if got := imageRef("docker.io/library/busybox:latest", "sha256:ab"); got != "docker.io/library/busybox@sha256:ab" {
		t.Errorf("imageRef = %q", got)
	}
}

func TestCPUSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 2: 1, 1024: 39, 262144: 10000} {
		if got := cpuSharesToWeight(shares); got != want {
			t.Errorf("cpuSharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestWithCapabilities(t *testing.T) {
	base := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"}
	tests := []struct {
		name      string
		add, drop []string
		want      func([]string) bool
	}{
		{name: "add", add: []string{"NET_ADMIN"}, want: func(c []string) bool { return slices.Contains(c, "CAP_NET_ADMIN") && len(c) == 4 }},
		{name: "drop", drop: []string{"net_raw"}, want: func(c []string) bool { return !slices.Contains(c, "CAP_NET_RAW") && len(c) == 2 }},
		{name: "drop all add one", drop: []string{"ALL"}, add: []string{"CAP_KILL"},
			want: func(c []string) bool { return slices.Equal(c, []string{"CAP_KILL"}) }},
		{name: "add all", add: []string{"ALL"}, want: func(c []string) bool { return len(c) > 30 && slices.Contains(c, "CAP_SYS_ADMIN") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &oci.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
				Bounding: slices.Clone(base), Effective: slices.Clone(base), Permitted: slices.Clone(base)}}}
			if err := withCapabilities(tt.add, tt.drop)(context.Background(), nil, nil, s); err != nil {
				t.Fatal(err)
			}
			for _, set := range [][]string{s.Process.Capabilities.Bounding, s.Process.Capabilities.Effective} {
				if !tt.want(set) {
					t.Fatalf("capabilities %v", set)
				}
			}
		})
	}
}

func TestSocketPath(t *testing.T) {
	if got := SocketPath("/var/lib/mini"); got != "/var/lib/mini/containerd/containerd.sock" {
		t.Errorf("SocketPath = %q", got)
	}
	long := "/tmp/" + strings.Repeat("d", 120)
	got := SocketPath(long)
	if !strings.HasPrefix(got, "/run/mini/") || len(got) > maxSocketPath || got != SocketPath(long) {
		t.Errorf("SocketPath(long) = %q", got)
	}
}
