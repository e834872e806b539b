package server

import "mini.dev/mini/internal/agent/host"

// advertiseAddress is where the kubernetes Service's endpoints point:
// --advertise-address, else this machine's node's IP (as k3s does), else
// the host's first address. Resolved at every start, so that on a laptop
// whose address changed the endpoints follow it after a restart.
func (s *Server) advertiseAddress() string {
	if s.cfg.AdvertiseAddress != "" {
		return s.cfg.AdvertiseAddress
	}
	if s.cfg.Node != nil {
		// A bad --node-ip is reported by the node itself.
		if ip, err := host.NodeIP(s.cfg.Node.IP); err == nil {
			return ip
		}
	}
	return defaultAdvertiseAddress()
}
