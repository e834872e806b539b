package dns

import "github.com/miekg/dns"

// ednsSize is the UDP payload size this server advertises: the DNS flag
// day's 1232 bytes, which no path MTU fragments.
const ednsSize = 1232

// reply writes m to the client, fitted to what the client can take: over
// UDP 512 bytes, or the EDNS0 size it advertised, with TC set when records
// had to go (the client then retries over TCP).
func reply(w dns.ResponseWriter, req, m *dns.Msg, tcp bool) {
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		if m.IsEdns0() == nil {
			m.SetEdns0(ednsSize, false)
		}
	}
	if tcp {
		size = dns.MaxMsgSize
	}
	m.Compress = true
	m.Truncate(size)
	_ = w.WriteMsg(m) // the client went away: nothing to do
}
