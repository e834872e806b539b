package network

import (
	"errors"
	"net"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"mini.dev/mini/internal/runtime"
)

func TestHostPorts(t *testing.T) {
	cases := []struct {
		name    string
		in      []runtime.PortMapping
		want    []hostPort
		wantErr error
	}{
		{name: "none"},
		{
			name: "no hostPort is skipped",
			in:   []runtime.PortMapping{{Protocol: "TCP", ContainerPort: 80}},
		},
		{
			name: "protocols, default TCP",
			in: []runtime.PortMapping{
				{ContainerPort: 80, HostPort: 8080},
				{Protocol: "UDP", ContainerPort: 53, HostPort: 5353},
				{Protocol: "sctp", ContainerPort: 9, HostPort: 9},
			},
			want: []hostPort{
				{proto: unix.IPPROTO_TCP, hostPort: 8080, containerPort: 80},
				{proto: unix.IPPROTO_UDP, hostPort: 5353, containerPort: 53},
				{proto: unix.IPPROTO_SCTP, hostPort: 9, containerPort: 9},
			},
		},
		{
			name: "hostIP kept, 0.0.0.0 means any, IPv6 skipped",
			in: []runtime.PortMapping{
				{ContainerPort: 80, HostPort: 8080, HostIP: "192.0.2.1"},
				{ContainerPort: 80, HostPort: 8081, HostIP: "0.0.0.0"},
				{ContainerPort: 80, HostPort: 8082, HostIP: "2001:db8::1"},
			},
			want: []hostPort{
				{proto: unix.IPPROTO_TCP, hostIP: net.IPv4(192, 0, 2, 1).To4(), hostPort: 8080, containerPort: 80},
				{proto: unix.IPPROTO_TCP, hostPort: 8081, containerPort: 80},
			},
		},
		{
			name:    "unknown protocol",
			in:      []runtime.PortMapping{{Protocol: "ICMP", ContainerPort: 1, HostPort: 1}},
			wantErr: ErrInvalidPortMapping,
		},
		{
			name:    "port out of range",
			in:      []runtime.PortMapping{{ContainerPort: 70000, HostPort: 1}},
			wantErr: ErrInvalidPortMapping,
		},
		{
			name:    "bad hostIP",
			in:      []runtime.PortMapping{{ContainerPort: 1, HostPort: 1, HostIP: "nope"}},
			wantErr: ErrInvalidPortMapping,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := hostPorts(c.in)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if a, b := vethName(id), vethName(id); a != b || len(a) != 12 || len(a) >= unix.IFNAMSIZ {
		t.Errorf("vethName: %q then %q, want the same 12 characters", a, b)
	}
	if vethName(id) == vethName(id+"x") {
		t.Error("vethName: two sandboxes share a name")
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x"} {
		if err := validSandboxID(bad); !errors.Is(err, ErrInvalidSandboxID) {
			t.Errorf("validSandboxID(%q) = %v, want ErrInvalidSandboxID", bad, err)
		}
	}
	if err := validSandboxID(id); err != nil {
		t.Errorf("validSandboxID(%q) = %v", id, err)
	}
}

func TestAddressing(t *testing.T) {
	_, cluster, _ := net.ParseCIDR("10.42.0.0/16")
	cases := []struct {
		cidr   string
		inside bool
		gw     string
	}{
		{"10.42.7.0/24", true, "10.42.7.1"},
		{"10.42.255.0/24", true, "10.42.255.1"},
		{"10.42.0.0/15", false, "10.42.0.1"},
		{"10.43.0.0/24", false, "10.43.0.1"},
	}
	for _, c := range cases {
		_, pod, _ := net.ParseCIDR(c.cidr)
		if got := cidrContains(cluster, pod); got != c.inside {
			t.Errorf("cidrContains(%s, %s) = %v", cluster, pod, got)
		}
		if got := nextIP(pod.IP.To4()).String(); got != c.gw {
			t.Errorf("gateway of %s = %s, want %s", c.cidr, got, c.gw)
		}
	}
	if got := nextIP(net.IPv4(10, 0, 0, 255).To4()).String(); got != "10.0.1.0" {
		t.Errorf("nextIP carries wrongly: %s", got)
	}
	if got := bridgeMAC(net.IPv4(10, 42, 7, 1)).String(); got != "0a:58:0a:2a:07:01" {
		t.Errorf("bridgeMAC = %s", got)
	}
	_, pod, _ := net.ParseCIDR("10.42.7.0/24")
	if got := pickPodIP([]string{"fd00::1", "10.1.1.1", "10.42.7.9"}, pod); got.String() != "10.42.7.9" {
		t.Errorf("pickPodIP = %v", got)
	}
}
