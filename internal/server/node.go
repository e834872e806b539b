package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"mini.dev/mini/internal/agent"
	"mini.dev/mini/internal/agent/endpoint"
	"mini.dev/mini/internal/agent/envvars"
	"mini.dev/mini/internal/agent/host"
	"mini.dev/mini/internal/agent/prober"
	"mini.dev/mini/internal/agent/volume"
	"mini.dev/mini/internal/network"
	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/runtime"
	ctrdruntime "mini.dev/mini/internal/runtime/containerd"
)

// NodeConfig is the real node `mini server` runs for its own machine:
// the agent on containerd, its pod network and its endpoint for logs and
// streams.
type NodeConfig struct {
	// Name defaults to the host name.
	Name string
	// IP is the node's InternalIP ("": the default route's source).
	IP string
	// ContainerRuntimeEndpoint is an existing containerd's socket; empty:
	// mini supervises its own under the data dir.
	ContainerRuntimeEndpoint string
	// KubeletPort is the node endpoint's port (0 picks a free one).
	KubeletPort int
	// ClusterDNS and ClusterDomain go into pods' resolv.conf.
	ClusterDNS    string
	ClusterDomain string
	// Bridge and NetNSDir name the pod network's bridge and where pod
	// network namespaces live (defaults mini0 and /run/mini/netns);
	// tests running several servers give each its own. A node with its
	// own bridge also gets its own nftables table (mini-podnet-<bridge>).
	Bridge   string
	NetNSDir string
}

func (c *NodeConfig) defaults() error {
	if c.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("node name: %w", err)
		}
		c.Name = h
	}
	if c.ClusterDNS == "" {
		c.ClusterDNS = "10.43.0.10"
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	return nil
}

// nodeDir is where the node role keeps its state: containerd's, pod logs
// and volumes.
func nodeDir(dataDir string) string { return filepath.Join(dataDir, "agent") }

// runNode runs the real node: containerd first (the agent cannot
// register without knowing its runtime), then the node endpoint (the
// Node carries its port), then the agent with its volume manager and
// prober. s.nodeReady is closed once the Node is registered.
func (s *Server) runNode(ctx context.Context, ca *pki.CA, apiAddr string) error {
	nc := *s.cfg.Node
	if err := nc.defaults(); err != nil {
		return err
	}
	dir := nodeDir(s.cfg.DataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	nodeIP, err := host.NodeIP(nc.IP)
	if err != nil {
		return err
	}
	facts, err := host.Read(dir)
	if err != nil {
		return err
	}
	restCfg, err := loopbackConfig(ca, apiAddr, identity{"system:node:" + nc.Name, []string{"system:nodes"}, "mini-agent/" + nc.Name})
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	log := s.cfg.Logger

	// A node on a bridge of its own (tests running several) gets its own
	// nftables table too, so that no node rewrites another's rules.
	table := ""
	if nc.Bridge != "" {
		table = "mini-podnet-" + nc.Bridge
	}
	podNet, err := network.New(network.Config{Bridge: nc.Bridge, Table: table, ClusterCIDR: s.cfg.ClusterCIDR, NetNSDir: nc.NetNSDir, Logger: log})
	if err != nil {
		return fmt.Errorf("pod network: %w", err)
	}
	defer podNet.Close()
	rt, err := ctrdruntime.New(ctrdruntime.Config{Address: nc.ContainerRuntimeEndpoint, DataDir: dir, Network: podNet, Logger: log})
	if err != nil {
		return err
	}
	// Once something runs, every way out stops it and waits for it, so
	// that nothing outlives the handles deferred above.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	defer rt.Close()
	stop := func(err error) error {
		cancel()
		return errors.Join(err, g.Wait())
	}
	g.Go(func() error { return rt.Run(ctx) })
	select {
	case <-rt.Ready():
	case <-ctx.Done():
		return g.Wait()
	}

	servingCert, servingKey, err := ca.Issue(pki.Request{CommonName: "system:node:" + nc.Name, Organization: []string{"system:nodes"},
		DNSNames: []string{nc.Name, "localhost"}, IPs: []net.IP{net.ParseIP(nodeIP), net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		return stop(err)
	}
	pods := &podsRef{}
	ep, err := endpoint.New(endpoint.Config{Addr: net.JoinHostPort("", strconv.Itoa(nc.KubeletPort)),
		CertPEM: servingCert, KeyPEM: servingKey, ClientCAs: ca.Pool(), Pods: pods, Streams: rt, Logger: log})
	if err != nil {
		return stop(err)
	}
	g.Go(func() error { return ep.Run(ctx) })
	select {
	case <-ep.Ready():
	case <-ctx.Done():
		return g.Wait()
	}

	events := record.NewBroadcaster(record.WithContext(ctx))
	defer events.Shutdown()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: nc.Name})

	// The agent is made last, but its collaborators call back into it.
	var ag *agent.Agent
	resync := func(uid types.UID) {
		if ag != nil {
			ag.Resync(uid)
		}
	}
	nodeInfo := envvars.Node{Name: nc.Name, HostIP: nodeIP, Allocatable: facts.Capacity}
	getter := envvars.NewCachedGetter(client, time.Second)
	vols, err := volume.New(volume.Config{Client: client, Getter: getter, RootDir: dir, NodeName: nc.Name,
		Node: func() envvars.Node { return nodeInfo }, OnChange: resync, Logger: log})
	if err != nil {
		return stop(err)
	}
	prb := prober.New(prober.Config{Exec: rt, Recorder: recorder, OnChange: resync, Logger: log})
	dns := volume.DNS{Servers: []string{nc.ClusterDNS}, Domain: nc.ClusterDomain, HostResolvConf: hostResolvConf()}
	ag, err = agent.New(agent.Config{
		Client: client, NodeName: nc.Name, Runtime: rt, RootDir: dir, Recorder: recorder, Logger: log,
		// kubelet gives every pod a worker: a pod's stop may wait its
		// whole grace period, and a start mostly waits on containerd.
		Workers: host.MaxPods,
		// ...but only a few start at once (see agent.Config).
		ParallelStarts: 8,
		Node: agent.NodeConfig{
			Capacity: facts.Capacity,
			Labels:   map[string]string{"node-role.kubernetes.io/control-plane": "true"},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: nodeIP},
				{Type: corev1.NodeHostName, Address: nc.Name},
			},
			Info:        facts.Info,
			KubeletPort: int32(ep.Port()),
		},
		Volumes: podVolumes{vols, dns},
		Env: func(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIPs []string) ([]runtime.KeyValue, error) {
			return envvars.Resolve(ctx, pod, c, podIPs, nodeInfo, getter)
		},
		Prober: prb,
	})
	if err != nil {
		return stop(err)
	}
	pods.set(ag.Pods())
	g.Go(func() error { return vols.Run(ctx) })
	g.Go(func() error { return ag.Run(ctx) })
	g.Go(func() error {
		select {
		case <-ag.Ready():
			close(s.nodeReady)
			s.log.Info("node ready", "node", nc.Name, "ip", nodeIP, "kubelet-port", ep.Port())
		case <-ctx.Done():
		}
		return nil
	})
	return g.Wait()
}

// hostResolvConf is the resolver file pods with dnsPolicy Default get:
// systemd-resolved's upstream list where /etc/resolv.conf names its
// loopback stub, which pods cannot reach.
func hostResolvConf() string {
	const resolved = "/run/systemd/resolve/resolv.conf"
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil && strings.Contains(string(b), "127.0.0.53") {
		if _, err := os.Stat(resolved); err == nil {
			return resolved
		}
	}
	return "/etc/resolv.conf"
}

// podVolumes gives the agent the volume manager with the cluster's DNS
// settings bound.
type podVolumes struct {
	*volume.Manager
	dns volume.DNS
}

func (v podVolumes) EtcFiles(pod *corev1.Pod, podIPs []string) ([]runtime.Mount, error) {
	return v.Manager.EtcFiles(pod, podIPs, v.dns)
}

// podsRef lets the endpoint, which starts before the agent exists,
// answer from the agent once it does.
type podsRef struct{ p atomic.Pointer[endpoint.Pods] }

func (r *podsRef) set(p endpoint.Pods) { r.p.Store(&p) }

func (r *podsRef) get() (endpoint.Pods, error) {
	p := r.p.Load()
	if p == nil {
		return nil, errors.New("the node agent is starting")
	}
	return *p, nil
}

func (r *podsRef) Container(namespace, pod, container string, previous bool) (endpoint.ContainerRef, error) {
	p, err := r.get()
	if err != nil {
		return endpoint.ContainerRef{}, err
	}
	return p.Container(namespace, pod, container, previous)
}

func (r *podsRef) Sandbox(namespace, pod string) (string, error) {
	p, err := r.get()
	if err != nil {
		return "", err
	}
	return p.Sandbox(namespace, pod)
}
