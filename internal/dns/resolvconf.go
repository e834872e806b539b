package dns

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// systemdStub is systemd-resolved's local stub: forwarding to it from the
// node works, but kubelet and k3s skip it for the real nameservers it
// forwards to (a pod given the stub could not reach it), and so do we, so
// that the node's and the pods' views agree.
var systemdStub = netip.MustParseAddr("127.0.0.53")

// upstreamsFrom reads the nameservers of a resolv.conf as host:port; the
// stub is replaced by the nameservers of systemd's resolv.conf.
func upstreamsFrom(resolvConf, systemdResolvConf string) ([]string, error) {
	servers, port, err := nameservers(resolvConf)
	if err != nil {
		return nil, err
	}
	var out []string
	stub := false
	for _, s := range servers {
		if a, err := netip.ParseAddr(s); err == nil && a == systemdStub {
			stub = true
			continue
		}
		out = append(out, net.JoinHostPort(s, port))
	}
	if stub {
		more, port, err := nameservers(systemdResolvConf)
		if err != nil {
			return nil, fmt.Errorf("%s names systemd-resolved's stub: %w", resolvConf, err)
		}
		for _, s := range more {
			if a, err := netip.ParseAddr(s); err == nil && a != systemdStub {
				out = append(out, net.JoinHostPort(s, port))
			}
		}
	}
	return out, nil
}

func nameservers(path string) ([]string, string, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	return cc.Servers, cc.Port, nil
}
