package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const hostResolv = `# host file
nameserver 192.168.1.1
nameserver 192.168.1.2
search old.example
search corp.example. lab.example .
options timeout:2 edns0
`

func TestEtcFiles(t *testing.T) {
	m, _, _ := newTestManager(t)
	hostConf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(hostConf, []byte(hostResolv), 0o644); err != nil {
		t.Fatal(err)
	}
	dns := DNS{Servers: []string{"10.43.0.10"}, Domain: "cluster.local", HostResolvConf: hostConf}
	base := func() *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-0", UID: testUID}}
	}
	hostsHead := "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
	clusterResolv := "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\nnameserver 10.43.0.10\noptions ndots:5\n"
	hostResolvOut := "search corp.example lab.example\nnameserver 192.168.1.1\nnameserver 192.168.1.2\noptions timeout:2 edns0\n"

	tests := []struct {
		name         string
		mutate       func(p *corev1.Pod)
		dns          *DNS
		wantHosts    string
		wantResolv   string
		wantHostname string
	}{
		{name: "cluster first",
			wantHosts: hostsHead + "10.42.0.9\tweb-0\n", wantResolv: clusterResolv, wantHostname: "web-0\n"},
		{name: "hostname, subdomain and aliases", mutate: func(p *corev1.Pod) {
			p.Spec.Hostname, p.Spec.Subdomain = "db", "backend"
			p.Spec.HostAliases = []corev1.HostAlias{{IP: "1.2.3.4", Hostnames: []string{"foo.local", "bar.local"}}}
		},
			wantHosts:  hostsHead + "10.42.0.9\tdb.backend.shop.svc.cluster.local\tdb\n\n# Entries added by HostAliases.\n1.2.3.4\tfoo.local\tbar.local\n",
			wantResolv: clusterResolv, wantHostname: "db\n"},
		{name: "fqdn hostname", mutate: func(p *corev1.Pod) {
			p.Spec.Subdomain = "backend"
			p.Spec.SetHostnameAsFQDN = ptr(true)
		},
			wantHosts:  hostsHead + "10.42.0.9\tweb-0.backend.shop.svc.cluster.local\tweb-0\n",
			wantResolv: clusterResolv, wantHostname: "web-0.backend.shop.svc.cluster.local\n"},
		{name: "long name cut to 63", mutate: func(p *corev1.Pod) { p.Name = strings.Repeat("a", 62) + "-xyz" },
			wantHosts: hostsHead + "10.42.0.9\t" + strings.Repeat("a", 62) + "\n", wantResolv: clusterResolv, wantHostname: strings.Repeat("a", 62) + "\n"},
		{name: "default policy", mutate: func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSDefault },
			wantResolv: hostResolvOut},
		{name: "cluster first on host network is the host's", mutate: func(p *corev1.Pod) { p.Spec.HostNetwork = true },
			wantResolv: hostResolvOut},
		{name: "cluster first with host net", mutate: func(p *corev1.Pod) {
			p.Spec.HostNetwork, p.Spec.DNSPolicy = true, corev1.DNSClusterFirstWithHostNet
		}, wantResolv: clusterResolv},
		{name: "none with dnsConfig", mutate: func(p *corev1.Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"8.8.8.8"}, Searches: []string{"a.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("2")}, {Name: "rotate"}}}
		}, wantResolv: "search a.example\nnameserver 8.8.8.8\noptions ndots:2 rotate\n"},
		{name: "none without dnsConfig", mutate: func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }, wantResolv: ""},
		{name: "cluster first merged with dnsConfig", mutate: func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"10.43.0.10", "1.1.1.1"}, Searches: []string{"cluster.local", "x.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("1")}, {Name: "edns0"}}}
		}, wantResolv: "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example x.example\nnameserver 10.43.0.10\nnameserver 1.1.1.1\noptions ndots:1 edns0\n"},
		{name: "no cluster DNS falls back to the host's", dns: &DNS{Servers: []string{""}, Domain: "cluster.local", HostResolvConf: hostConf},
			wantResolv: hostResolvOut},
		{name: "no resolver file", mutate: func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSDefault },
			dns: &DNS{Servers: []string{"10.43.0.10"}, Domain: "cluster.local"}, wantResolv: "search .\nnameserver 127.0.0.1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := base()
			if tt.mutate != nil {
				tt.mutate(pod)
			}
			d := dns
			if tt.dns != nil {
				d = *tt.dns
			}
			mounts, err := m.EtcFiles(pod, []string{"10.42.0.9"}, d)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, mt := range mounts {
				data, err := os.ReadFile(mt.HostPath)
				if err != nil {
					t.Fatal(err)
				}
				if mt.ReadOnly {
					t.Errorf("%s mounted read-only", mt.ContainerPath)
				}
				got[mt.ContainerPath] = string(data)
			}
			if len(mounts) != 3 {
				t.Fatalf("mounts = %v", mounts)
			}
			if tt.wantHosts != "" && got["/etc/hosts"] != tt.wantHosts {
				t.Errorf("hosts =\n%s\nwant\n%s", got["/etc/hosts"], tt.wantHosts)
			}
			if pod.Spec.HostNetwork && !strings.HasPrefix(got["/etc/hosts"], "# Kubernetes-managed hosts file (host network).\n") {
				t.Errorf("host network hosts =\n%s", got["/etc/hosts"])
			}
			if got["/etc/resolv.conf"] != tt.wantResolv {
				t.Errorf("resolv.conf =\n%s\nwant\n%s", got["/etc/resolv.conf"], tt.wantResolv)
			}
			if tt.wantHostname != "" && got["/etc/hostname"] != tt.wantHostname {
				t.Errorf("hostname = %q, want %q", got["/etc/hostname"], tt.wantHostname)
			}
		})
	}
}

// TestEtcFilesRewriteInPlace: a new pod IP reaches the same inode, which
// running containers have bind-mounted.
func TestEtcFilesRewriteInPlace(t *testing.T) {
	m, _, _ := newTestManager(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: testUID}}
	mounts, err := m.EtcFiles(pod, []string{"10.42.0.9"}, DNS{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(mounts[0].HostPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.EtcFiles(pod, []string{"10.42.0.10"}, DNS{}); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(mounts[0].HostPath)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("hosts file replaced, not rewritten in place")
	}
	data, _ := os.ReadFile(mounts[0].HostPath)
	if !strings.Contains(string(data), "10.42.0.10\tp\n") {
		t.Errorf("hosts = %s", data)
	}
}
