package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// resolverConfig is a resolv.conf's content.
type resolverConfig struct {
	servers, searches, options []string
}

// resolvConf is kubelet's GetPodDNS followed by the file containerd's CRI
// plugin writes from it: the host's configuration for dnsPolicy Default
// (and ClusterFirst on the host network), the cluster DNS with the
// cluster search path and ndots:5 for ClusterFirst and
// ClusterFirstWithHostNet, nothing for None; then spec.dnsConfig merged
// in and the result cut to the resolver's limits.
func resolvConf(pod *corev1.Pod, dns DNS) ([]byte, error) {
	cfg, err := hostResolverConfig(dns.HostResolvConf)
	if err != nil {
		return nil, err
	}
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	if policy == corev1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = corev1.DNSDefault
	}
	switch policy {
	case corev1.DNSNone:
		cfg = resolverConfig{}
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		servers := omitDuplicates(dns.Servers)
		if len(servers) == 0 {
			break // no cluster DNS known: kubelet falls back to Default
		}
		cfg.servers = servers
		if dns.Domain != "" {
			cluster := []string{pod.Namespace + ".svc." + dns.Domain, "svc." + dns.Domain, dns.Domain}
			cfg.searches = omitDuplicates(append(cluster, cfg.searches...))
		}
		cfg.options = []string{"ndots:5"}
	case corev1.DNSDefault:
		if dns.HostResolvConf == "" {
			// No resolver file: kubelet points the pod at the local
			// machine, which in effect disables lookups.
			cfg = resolverConfig{servers: []string{"127.0.0.1"}, searches: []string{"."}}
		}
	default:
		return nil, fmt.Errorf("invalid DNSPolicy=%v", policy)
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		cfg.servers = omitDuplicates(append(cfg.servers, dc.Nameservers...))
		cfg.searches = omitDuplicates(append(cfg.searches, dc.Searches...))
		cfg.options = mergeDNSOptions(cfg.options, dc.Options)
	}
	cfg.fitLimits()
	return cfg.render(), nil
}

// hostResolverConfig parses the host's resolv.conf as kubelet does: the
// last search line wins, "." and trailing dots are dropped. A missing
// file is an empty configuration.
func hostResolverConfig(path string) (resolverConfig, error) {
	var cfg resolverConfig
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && (line[0] == '#' || line[0] == ';') {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if len(fields) >= 2 {
				cfg.servers = append(cfg.servers, fields[1])
			}
		case "search":
			cfg.searches = nil
			for _, s := range fields[1:] {
				if s != "." {
					cfg.searches = append(cfg.searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			cfg.options = mergeOptionStrings(cfg.options, fields[1:])
		}
	}
	return cfg, nil
}

// fitLimits keeps three nameservers and the search path within glibc's
// limits, as kubelet's formDNSConfigFitsLimits.
func (c *resolverConfig) fitLimits() {
	if len(c.servers) > 3 {
		c.servers = c.servers[:3]
	}
	if len(c.searches) > maxDNSSearchPaths {
		c.searches = c.searches[:maxDNSSearchPaths]
	}
	for len(c.searches) > 0 && len(strings.Join(c.searches, " ")) > maxDNSSearchChars {
		c.searches = c.searches[:len(c.searches)-1]
	}
}

// render writes the file as containerd's CRI plugin does.
func (c resolverConfig) render() []byte {
	var b strings.Builder
	if len(c.searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(c.searches, " "))
	}
	for _, s := range c.servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(c.options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(c.options, " "))
	}
	return []byte(b.String())
}

// omitDuplicates keeps the first of each entry, and no empty ones.
func omitDuplicates(in []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeDNSOptions adds the pod's options, which replace same-named ones;
// the first-seen order is kept so that the file is stable.
func mergeDNSOptions(existing []string, pod []corev1.PodDNSConfigOption) []string {
	extra := make([]string, 0, len(pod))
	for _, o := range pod {
		s := o.Name
		if o.Value != nil && *o.Value != "" {
			s += ":" + *o.Value
		}
		extra = append(extra, s)
	}
	return mergeOptionStrings(existing, extra)
}

func mergeOptionStrings(existing, extra []string) []string {
	out := append([]string(nil), existing...)
	index := map[string]int{}
	for i, o := range out {
		name, _, _ := strings.Cut(o, ":")
		index[name] = i
	}
	for _, o := range extra {
		name, _, _ := strings.Cut(o, ":")
		if i, ok := index[name]; ok {
			out[i] = o
			continue
		}
		index[name] = len(out)
		out = append(out, o)
	}
	return out
}
