package multinodetest

import (
	"testing"
)

// Both clusters run side by side, each on hosts of its own; within one,
// the tests that only read or add objects run in parallel, then those
// that restart or remove nodes one after another. One cluster per
// backend keeps the package within a few minutes on a small machine.

// TestVXLAN: three nodes on the vxlan backend and a spare host.
func TestVXLAN(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterSpec{kind: 'v', backend: "vxlan", nodes: 3, spare: 1, clusterCIDR: "10.42.0.0/16", first: 0})
	w := deployWorkload(t, c)
	t.Run("traffic", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			test func(*testing.T)
		}{
			{"OverlayState", func(t *testing.T) { testOverlayState(t, c) }},
			{"PodToPod", func(t *testing.T) { testPodToPod(t, c, w) }},
			{"ClusterIP", func(t *testing.T) { testClusterIP(t, c, w) }},
			{"NodePort", func(t *testing.T) { testNodePort(t, c, w) }},
			{"LoadBalancer", func(t *testing.T) { testLoadBalancer(t, c, w) }},
			{"SessionAffinity", func(t *testing.T) { testSessionAffinity(t, c, w) }},
			{"ReadyEndpoints", func(t *testing.T) { testReadyEndpoints(t, c, w) }},
			{"DNS", func(t *testing.T) { testDNS(t, c) }},
			{"InitContainerWaitsForService", func(t *testing.T) { testInitContainerWaitsForService(t, c) }},
			{"BadJoinToken", func(t *testing.T) { testBadJoinToken(t, c) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.test(t)
			})
		}
	})
	// These take the spare host or restart and remove nodes: one at a time.
	t.Run("DuplicateNodeName", func(t *testing.T) { testDuplicateNodeName(t, c) })
	t.Run("AgentRestartKeepsIdentity", func(t *testing.T) { testAgentRestart(t, c, w) })
	t.Run("NodeLeaving", func(t *testing.T) { testNodeLeaving(t, c, w) })
}

// TestHostGW: two nodes on the host-gw backend.
func TestHostGW(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterSpec{kind: 'g', backend: "host-gw", nodes: 2, clusterCIDR: "10.45.0.0/16", first: 100})
	w := deployWorkload(t, c)
	t.Run("OverlayState", func(t *testing.T) { testOverlayState(t, c) })
	t.Run("PodToPod", func(t *testing.T) { testPodToPod(t, c, w) })
	t.Run("ClusterIP", func(t *testing.T) { testClusterIP(t, c, w) })
}
