package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/runtime"
)

// DNS is the cluster's DNS setup, which pods' resolv.conf follows.
type DNS struct {
	// Servers are the cluster DNS addresses (10.43.0.10).
	Servers []string
	// Domain is the cluster domain (cluster.local).
	Domain string
	// HostResolvConf is the host's resolver file, used by dnsPolicy
	// Default and for the host's search domains. Point it at
	// /run/systemd/resolve/resolv.conf on hosts where /etc/resolv.conf
	// names a loopback stub that pods cannot reach.
	HostResolvConf string
}

// Kubelet's limits on the resolver configuration it hands to pods.
const (
	maxDNSSearchPaths = 32
	maxDNSSearchChars = 2048
	maxHostnameLen    = 63
)

// EtcFiles writes the pod's /etc/hosts, /etc/resolv.conf and
// /etc/hostname under RootDir/pods/<uid> and returns their mounts.
// podIPs are the pod's addresses (ignored for hostNetwork pods, which
// get the host's hosts file and hostname). The files are rewritten in
// place when they change, so running containers see the new content.
// The agent should drop a mount when a container mounts a volume at the
// same path, as kubelet does.
func (m *Manager) EtcFiles(pod *corev1.Pod, podIPs []string, dns DNS) ([]runtime.Mount, error) {
	dir := m.podDir(pod.UID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	hostname, domain, err := podHostname(pod, dns.Domain)
	if err != nil {
		return nil, err
	}
	var hosts []byte
	if pod.Spec.HostNetwork {
		if hosts, err = hostNetworkHosts("/etc/hosts", pod.Spec.HostAliases); err != nil {
			return nil, err
		}
		if hostname, err = os.Hostname(); err != nil {
			return nil, err
		}
	} else {
		hosts = managedHosts(podIPs, hostname, domain, pod.Spec.HostAliases)
	}
	resolv, err := resolvConf(pod, dns)
	if err != nil {
		return nil, err
	}
	if pod.Spec.SetHostnameAsFQDN != nil && *pod.Spec.SetHostnameAsFQDN && domain != "" && !pod.Spec.HostNetwork {
		hostname = hostname + "." + domain
	}
	files := []struct {
		name, target string
		data         []byte
	}{
		{"etc-hosts", "/etc/hosts", hosts},
		{"resolv.conf", "/etc/resolv.conf", resolv},
		{"hostname", "/etc/hostname", []byte(hostname + "\n")},
	}
	mounts := make([]runtime.Mount, 0, len(files))
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := writeInPlace(path, f.data); err != nil {
			return nil, err
		}
		mounts = append(mounts, runtime.Mount{ContainerPath: f.target, HostPath: path})
	}
	return mounts, nil
}

// writeInPlace rewrites a file only when its content differs, keeping
// its inode: the file is bind-mounted into running containers, and a
// rename would leave them with the old one.
func writeInPlace(path string, data []byte) error {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// podHostname is kubelet's GeneratePodHostNameAndDomain: spec.hostname
// or the pod's name (cut to 63 characters), and with a subdomain the
// domain <subdomain>.<namespace>.svc.<cluster domain>.
func podHostname(pod *corev1.Pod, clusterDomain string) (hostname, domain string, err error) {
	hostname = pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if len(hostname) > maxHostnameLen {
		hostname = strings.TrimRight(hostname[:maxHostnameLen], "-.")
		if hostname == "" {
			return "", "", fmt.Errorf("hostname for pod %q was invalid", pod.Name)
		}
	}
	if pod.Spec.Subdomain != "" {
		domain = fmt.Sprintf("%s.%s.svc.%s", pod.Spec.Subdomain, pod.Namespace, clusterDomain)
	}
	return hostname, domain, nil
}

// managedHosts is kubelet's managedHostsFileContent.
func managedHosts(ips []string, hostname, domain string, aliases []corev1.HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	for _, ip := range ips {
		if domain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, hostname, domain, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
		}
	}
	b.Write(hostAliasEntries(aliases))
	return b.Bytes()
}

// hostNetworkHosts is the host's hosts file under kubelet's header, plus
// the pod's host aliases.
func hostNetworkHosts(path string, aliases []corev1.HostAlias) ([]byte, error) {
	host, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file (host network).\n")
	b.Write(host)
	b.Write(hostAliasEntries(aliases))
	return b.Bytes(), nil
}

func hostAliasEntries(aliases []corev1.HostAlias) []byte {
	if len(aliases) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.Bytes()
}
