package nodetest

import (
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"mini.dev/mini/internal/benchutil"
)

// cleanupLeftovers removes what a stopped node left on the machine and
// says what, beyond the bridge a node keeps by design, should have gone
// with its pods: processes started under dir (containerd, shims) and
// their children (containers), mounts under dir, host-side veths on the
// bridge.
func cleanupLeftovers(dir, bridge, netnsDir string) []string {
	var leaks []string
	leaks = append(leaks, benchutil.KillProcessesUnder(dir)...)
	leaks = append(leaks, vethsOn(bridge)...)
	if link, err := netlink.LinkByName(bridge); err == nil {
		netlink.LinkDel(link)
	}
	// A node on its own bridge has its own table (server.NodeConfig).
	if err := deleteNFTable("mini-podnet-" + bridge); err != nil {
		leaks = append(leaks, "nftables table: "+err.Error())
	}
	for _, m := range benchutil.UnmountUnder(dir) {
		// The namespace directory is itself a mount point (as `ip netns`
		// makes it), kept like the bridge; namespaces inside it are not.
		if m != "mount "+netnsDir {
			leaks = append(leaks, m)
		}
	}
	return leaks
}

// vethsOn reports links still enslaved to the bridge and deletes them.
func vethsOn(bridge string) []string {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil
	}
	links, err := netlink.LinkList()
	if err != nil {
		return []string{err.Error()}
	}
	var leaks []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			leaks = append(leaks, "link "+l.Attrs().Name+" on bridge "+bridge)
			netlink.LinkDel(l)
		}
	}
	return leaks
}

// deleteNFTable deletes an ip-family nftables table if it exists.
func deleteNFTable(name string) error {
	conn, err := nftables.New()
	if err != nil {
		return err
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if t.Name == name {
			conn.DelTable(t)
			return conn.Flush()
		}
	}
	return nil
}
