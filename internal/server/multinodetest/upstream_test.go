package multinodetest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"mini.dev/mini/internal/server/multinodetest/harness"
)

// The hosts' resolv.conf names the client namespace's address (see
// scripts/mini-hosts): a node's DNS forwards names outside the cluster
// there, to this resolver, which stands for the rest of the world.

// upstreamName and upstreamAddr are the one name the upstream knows,
// an address that nothing uses.
const upstreamName = "upstream.mini.test."

func (c *cluster) upstreamAddr() string { return c.Hosts.Net + ".77" }

// startUpstream runs the resolver in the client namespace and waits until
// it answers.
func (c *cluster) startUpstream() error {
	spec := fmt.Sprintf("%s:53;%s=%s", c.Hosts.ClientAddr(), upstreamName, c.upstreamAddr())
	argv := harness.InNS(c.Hosts.ClientNS(), os.Args[0])
	c.upstream = exec.Command(argv[0], argv[1:]...)
	c.upstream.Env = append(os.Environ(), upstreamChildEnv+"="+spec)
	c.upstream.Stdout, c.upstream.Stderr = c.Log, c.Log
	c.upstream.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.upstream.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := c.Run(5*time.Second, c.Hosts.NS(0), "/bin/busybox", "nslookup", strings.TrimSuffix(upstreamName, "."), c.Hosts.ClientAddr())
		if err == nil && strings.Contains(out, c.upstreamAddr()) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the upstream resolver in %s does not answer: %v\n%s", c.Hosts.ClientNS(), err, out)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition, not waiting for it
	}
}

// runUpstreamChild serves spec, "ADDR:PORT;name=ip,name=ip", over UDP:
// A records for the names, NXDOMAIN for the rest.
func runUpstreamChild(spec string) int {
	addr, table, _ := strings.Cut(spec, ";")
	names := map[string]netip.Addr{}
	for _, kv := range strings.Split(table, ",") {
		name, ip, ok := strings.Cut(kv, "=")
		a, err := netip.ParseAddr(ip)
		if !ok || err != nil || !a.Is4() {
			fmt.Fprintf(os.Stderr, "upstream: bad entry %q\n", kv)
			return 2
		}
		names[strings.ToLower(name)] = a
	}
	conn, err := net.ListenPacket("udp4", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		return 1
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "upstream:", err)
			return 1
		}
		if reply, err := answer(buf[:n], names); err == nil {
			conn.WriteTo(reply, from)
		}
	}
}

// answer builds the reply to one query.
func answer(query []byte, names map[string]netip.Addr) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	addr, known := names[strings.ToLower(q.Name.String())]
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if known && q.Type == dnsmessage.TypeA {
		if err := b.StartAnswers(); err != nil {
			return nil, err
		}
		rr := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 30}
		if err := b.AResource(rr, dnsmessage.AResource{A: addr.As4()}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}
