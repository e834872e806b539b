package dns

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"k8s.io/client-go/informers"
)

// Config configures a Server. Zero fields take the defaults shown, except
// Port and Device, whose zero values suit a test on loopback.
type Config struct {
	// Informers is the node's shared informer factory; the Server watches
	// Services and EndpointSlices through it.
	Informers informers.SharedInformerFactory
	// Domain is the cluster domain ("cluster.local").
	Domain string
	// Addresses are served on UDP and TCP ([10.43.0.10], the cluster DNS
	// address).
	Addresses []netip.Addr
	// Port is the port served; a node passes DefaultPort (53). 0 picks a
	// free port per address (tests; see Server.Addrs).
	Port int
	// Device is the dummy link the Addresses are put on as /32 (/128),
	// made if missing, so that the node answers them itself; a node passes
	// DefaultDevice. Empty: no device, the addresses already exist (tests
	// on 127.0.0.1).
	Device string
	// ServiceCIDRs are the Service address ranges ([10.43.0.0/16]): their
	// reverse names are answered here, NXDOMAIN when unknown; other reverse
	// names not known here are forwarded.
	ServiceCIDRs []netip.Prefix
	// Upstreams are the resolvers ("host:port") queries outside the
	// cluster domain go to. Empty: the nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is read for upstreams ("/etc/resolv.conf"). When it
	// names systemd-resolved's stub (127.0.0.53), SystemdResolvConf
	// ("/run/systemd/resolve/resolv.conf") is read for the real ones,
	// as kubelet and k3s do.
	ResolvConf, SystemdResolvConf string
	// TTL of the cluster's records (5 s, CoreDNS's default).
	TTL time.Duration
	// UpstreamTimeout bounds one exchange with one upstream (2 s).
	UpstreamTimeout time.Duration
	Logger          *slog.Logger
}

// What a node passes where the zero value means "for a test".
const (
	// DefaultDevice is the dummy link a node puts the cluster DNS address on.
	DefaultDevice = "mini-dns0"
	// DefaultPort is the DNS port.
	DefaultPort = 53
)

const (
	defaultDomain            = "cluster.local"
	defaultResolvConf        = "/etc/resolv.conf"
	defaultSystemdResolvConf = "/run/systemd/resolve/resolv.conf"
	defaultTTL               = 5 * time.Second
	defaultUpstreamTimeout   = 2 * time.Second
	// maxDeviceName is IFNAMSIZ less the terminating NUL.
	maxDeviceName = 15
)

var (
	defaultAddress     = netip.MustParseAddr("10.43.0.10")
	defaultServiceCIDR = netip.MustParsePrefix("10.43.0.0/16")
)

// withDefaults fills in the zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Informers == nil {
		return c, fmt.Errorf("%w: no Informers", ErrConfig)
	}
	if c.Domain == "" {
		c.Domain = defaultDomain
	}
	c.Domain = strings.ToLower(strings.Trim(c.Domain, "."))
	if len(c.Addresses) == 0 {
		c.Addresses = []netip.Addr{defaultAddress}
	}
	for _, a := range c.Addresses {
		if !a.IsValid() {
			return c, fmt.Errorf("%w: invalid address in Addresses", ErrConfig)
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("%w: port %d", ErrConfig, c.Port)
	}
	if len(c.Device) > maxDeviceName {
		return c, fmt.Errorf("%w: device name %q longer than %d bytes", ErrConfig, c.Device, maxDeviceName)
	}
	if len(c.ServiceCIDRs) == 0 {
		c.ServiceCIDRs = []netip.Prefix{defaultServiceCIDR}
	}
	if c.ResolvConf == "" {
		c.ResolvConf = defaultResolvConf
	}
	if c.SystemdResolvConf == "" {
		c.SystemdResolvConf = defaultSystemdResolvConf
	}
	if c.TTL <= 0 {
		c.TTL = defaultTTL
	}
	if c.UpstreamTimeout <= 0 {
		c.UpstreamTimeout = defaultUpstreamTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
