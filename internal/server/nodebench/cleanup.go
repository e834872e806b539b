package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"mini.dev/mini/internal/benchutil"
)

// The pod network's names: `mini server` has no flags for them yet, so
// the benchmark's node shares them with any other node of this machine.
const (
	podBridge   = "mini0"
	podNetTable = "mini-podnet"
	// The overlay's device and the service proxy's table, which a node
	// leaves in place when it stops (live traffic outlives a restart).
	vxlanDevice = "flannel.1"
	proxyTable  = "mini-proxy"
)

// hostNetwork is what the machine's pod network looked like before the
// benchmark, so that the end removes only what the benchmark made.
type hostNetwork struct {
	bridge, table          bool
	vxlan, proxyTableFound bool
}

// readHostNetwork refuses to run beside another node that has pods on
// the shared bridge: the two would share its addresses.
func readHostNetwork() (hostNetwork, error) {
	var h hostNetwork
	if br, err := netlink.LinkByName(podBridge); err == nil {
		h.bridge = true
		if ports := linksOn(br); len(ports) > 0 {
			return h, fmt.Errorf("bridge %s has %d pods' links (%s): another mini node runs pods on this machine; stop it first",
				podBridge, len(ports), strings.Join(ports, ", "))
		}
	}
	tables, err := listTables()
	if err != nil {
		return h, err
	}
	for _, t := range tables {
		h.table = h.table || t.Name == podNetTable
		h.proxyTableFound = h.proxyTableFound || t.Name == proxyTable
	}
	_, err = netlink.LinkByName(vxlanDevice)
	h.vxlan = err == nil
	return h, nil
}

// restore removes the bridge, tables and VXLAN device the benchmark's node made, unless
// another node has started using them meanwhile.
func (h hostNetwork) restore() {
	br, err := netlink.LinkByName(podBridge)
	if h.bridge || err != nil || len(linksOn(br)) > 0 {
		return
	}
	netlink.LinkDel(br)
	if vx, err := netlink.LinkByName(vxlanDevice); err == nil && !h.vxlan {
		netlink.LinkDel(vx)
	}
	if tables, err := listTables(); err == nil {
		for _, t := range tables {
			if (t.Name == podNetTable && !h.table) || (t.Name == proxyTable && !h.proxyTableFound) {
				if conn, err := nftables.New(); err == nil {
					conn.DelTable(t)
					conn.Flush()
				}
			}
		}
	}
}

func listTables() ([]*nftables.Table, error) {
	conn, err := nftables.New()
	if err != nil {
		return nil, err
	}
	return conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
}

// linksOn names the links enslaved to a bridge.
func linksOn(br netlink.Link) []string {
	links, err := netlink.LinkList()
	if err != nil {
		return nil
	}
	var names []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			names = append(names, l.Attrs().Name)
		}
	}
	return names
}

// stopNode stops a server (SIGTERM, then its process group), then ends
// whatever it left running under dir (its shims and their containers
// once their pods were deleted, none should be left), unmounts what is
// mounted under dir and removes dir. It returns what it had to clean up
// beyond the server.
func stopNode(srv *benchutil.Server, dir string) ([]string, error) {
	var errs []error
	if srv != nil {
		if err := srv.Stop(time.Minute); err != nil {
			errs = append(errs, fmt.Errorf("stopping the server: %w", err))
		}
	}
	leftovers := benchutil.KillProcessesUnder(dir)
	leftovers = append(leftovers, benchutil.UnmountUnder(dir)...)
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return leftovers, errors.Join(errs...)
}
