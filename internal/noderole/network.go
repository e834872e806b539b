package noderole

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"golang.org/x/sync/errgroup"

	"mini.dev/mini/internal/dns"
	"mini.dev/mini/internal/network/overlay"
	"mini.dev/mini/internal/proxy"
)

// NetworkConfig says which of the node's network components run and how.
type NetworkConfig struct {
	// FlannelBackend is the overlay between nodes: "vxlan" (default),
	// "host-gw" or "none".
	FlannelBackend string
	// ServiceCIDR is the Services' range (10.43.0.0/16): DNS answers its
	// reverse names.
	ServiceCIDR string
	// DisableOverlay, DisableProxy and DisableDNS leave out the overlay,
	// the service proxy and the cluster DNS (tests running several nodes
	// in one network namespace, or a user running their own).
	DisableOverlay bool
	DisableProxy   bool
	DisableDNS     bool
}

// runNetworkComponents runs the node's network components: the overlay
// between nodes, the service proxy and the cluster DNS, all on env's one
// informer factory, until ctx ends. Every node, the server's and each
// joined agent's, runs them in the network namespace it was started in.
func runNetworkComponents(ctx context.Context, env Env) error {
	nodeIP, err := netip.ParseAddr(env.NodeIP)
	if err != nil {
		return fmt.Errorf("node IP: %w", err)
	}
	clusterCIDR, err := netip.ParsePrefix(env.ClusterCIDR)
	if err != nil {
		return fmt.Errorf("cluster CIDR: %w", err)
	}
	var runners []func(context.Context) error

	if !env.Network.DisableOverlay {
		ov, err := overlay.New(overlay.Config{Client: env.Client, Informers: env.Informers, NodeName: env.NodeName,
			Backend: env.Network.FlannelBackend, PublicIP: nodeIP, Logger: env.Logger})
		if err != nil {
			return fmt.Errorf("overlay: %w", err)
		}
		// Stopping leaves routes and the VXLAN device in place: pods keep
		// talking across nodes while an agent restarts.
		defer ov.Close()
		runners = append(runners, ov.Run)
	}

	if !env.Network.DisableProxy {
		px, err := proxy.New(proxy.Config{Informers: env.Informers, NodeName: env.NodeName,
			NodeIPs: []netip.Addr{nodeIP}, ClusterCIDR: clusterCIDR, Table: env.tableName(proxy.DefaultTable),
			Logger: env.Logger})
		if err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
		runners = append(runners, px.Run, func(ctx context.Context) error {
			// `mini start` reads this line as the proxy's step.
			select {
			case <-px.Ready():
				env.Logger.Info("service proxy synced", "component", "proxy", "table", env.tableName(proxy.DefaultTable))
			case <-ctx.Done():
			}
			return nil
		})
	}

	if !env.Network.DisableDNS {
		dnsIP, err := netip.ParseAddr(env.ClusterDNS)
		if err != nil {
			return fmt.Errorf("cluster DNS: %w", err)
		}
		serviceCIDR := env.Network.ServiceCIDR
		if serviceCIDR == "" {
			serviceCIDR = "10.43.0.0/16"
		}
		svcPrefix, err := netip.ParsePrefix(serviceCIDR)
		if err != nil {
			return fmt.Errorf("service CIDR: %w", err)
		}
		ds, err := dns.New(dns.Config{Informers: env.Informers, Domain: env.ClusterDomain, Addresses: []netip.Addr{dnsIP},
			Port: dns.DefaultPort, Device: dns.DefaultDevice, ServiceCIDRs: []netip.Prefix{svcPrefix},
			Logger: env.Logger})
		if err != nil {
			return fmt.Errorf("dns: %w", err)
		}
		defer ds.Close()
		runners = append(runners, ds.Run)
	}

	g, ctx := errgroup.WithContext(ctx)
	for _, run := range runners {
		g.Go(func() error {
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		})
	}
	return g.Wait()
}

// tableName is an nftables table's name for this node: a node on a
// bridge of its own (tests running several in one namespace) suffixes it,
// as the pod network's table is.
func (e Env) tableName(base string) string {
	if e.Bridge == "" {
		return base
	}
	return base + "-" + e.Bridge
}

// podMTU is the MTU of the pod network: the underlay's, less the VXLAN
// overhead with that backend. 0 (the pod network's own default) when the
// node's link cannot be found.
func podMTU(backend, nodeIP string, log *slog.Logger) int {
	if backend == overlay.BackendNone {
		return 0
	}
	ip, err := netip.ParseAddr(nodeIP)
	if err != nil {
		return 0
	}
	mtu, err := overlay.PodMTU(backend, ip)
	if err != nil {
		log.Warn("pod MTU left at the default", "component", "network", "err", err)
		return 0
	}
	return mtu
}
