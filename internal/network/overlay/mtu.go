package overlay

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// PodMTU is the MTU pods should be given before the overlay runs (the pod
// network is made first): the MTU of the link holding publicIP, less the
// VXLAN encapsulation for the vxlan backend, as flannel's subnet.env
// tells its CNI plugin.
func PodMTU(backend string, publicIP netip.Addr) (int, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return 0, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	under, err := underlay(h, publicIP)
	if err != nil {
		return 0, err
	}
	mtu := under.Attrs().MTU
	if backend == "" || backend == BackendVXLAN {
		mtu -= encapOverhead
	}
	return mtu, nil
}
