// Package host reads what a real node reports about its machine:
// capacity (CPUs, memory, disk under the data dir, pods), the node's
// system info (kernel, OS image, machine and boot IDs) and its addresses,
// as kubelet's cadvisor and node-status setters do.
package host

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// MaxPods is kubelet's --max-pods default.
const MaxPods = 110

// Facts is what the host tells about itself.
type Facts struct {
	Capacity corev1.ResourceList
	Info     corev1.NodeSystemInfo
}

// Read gathers the host's facts; dataDir is where pods' writable layers
// and volumes live, so its filesystem is the node's ephemeral storage.
func Read(dataDir string) (Facts, error) {
	mem, err := memTotal("/proc/meminfo")
	if err != nil {
		return Facts{}, err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dataDir, &st); err != nil {
		return Facts{}, fmt.Errorf("host: disk of %s: %w", dataDir, err)
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return Facts{}, fmt.Errorf("host: uname: %w", err)
	}
	f := Facts{
		Capacity: corev1.ResourceList{
			corev1.ResourceCPU:              *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
			corev1.ResourceMemory:           *resource.NewQuantity(mem, resource.BinarySI),
			corev1.ResourceEphemeralStorage: *resource.NewQuantity(int64(st.Blocks)*st.Bsize, resource.BinarySI),
			corev1.ResourcePods:             *resource.NewQuantity(MaxPods, resource.DecimalSI),
			"hugepages-2Mi":                 *resource.NewQuantity(0, resource.BinarySI),
		},
		Info: corev1.NodeSystemInfo{
			MachineID:     readTrim("/etc/machine-id"),
			SystemUUID:    readTrim("/sys/class/dmi/id/product_uuid"),
			BootID:        readTrim("/proc/sys/kernel/random/boot_id"),
			KernelVersion: unix.ByteSliceToString(uts.Release[:]),
			OSImage:       osImage("/etc/os-release"),
		},
	}
	return f, nil
}

// memTotal is MemTotal from /proc/meminfo, in bytes.
func memTotal(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("host: memory: %w", err)
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("host: memory: %w", err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("host: memory: no MemTotal in %s", path)
}

// osImage is PRETTY_NAME from os-release, as kubelet reports it.
func osImage(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "Linux"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return "Linux"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// NodeIP is the address the node advertises: want when set (it must be
// one of the host's), else the source address of the default route,
// else the first non-loopback IPv4 address, else 127.0.0.1.
func NodeIP(want string) (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("host: addresses: %w", err)
	}
	var first string
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() {
			continue
		}
		if want != "" && n.IP.String() == want {
			return want, nil
		}
		if first == "" && n.IP.To4() != nil {
			first = n.IP.String()
		}
	}
	if want != "" {
		if ip := net.ParseIP(want); ip != nil && ip.IsLoopback() {
			return want, nil
		}
		return "", fmt.Errorf("--node-ip %s is not an address of this host", want)
	}
	if ip := defaultRouteSource(); ip != "" {
		return ip, nil
	}
	if first != "" {
		return first, nil
	}
	return "127.0.0.1", nil
}

// defaultRouteSource asks the kernel which source address it would use
// towards the outside, without sending anything (UDP connect only picks
// a route).
func defaultRouteSource() string {
	c, err := net.Dial("udp4", "192.0.2.1:9") // TEST-NET-1: routed, never answered
	if err != nil {
		return ""
	}
	defer c.Close()
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsLoopback() {
		return a.IP.String()
	}
	return ""
}
