package prober

import (
	"context"
	"net"
	"strconv"
	"syscall"
	"time"
)

// probeDialer is kubelet's ProbeDialer: connections close with a
// one-second linger, so that frequent probes do not pile up sockets in
// TIME_WAIT on the node.
func probeDialer() *net.Dialer {
	return &net.Dialer{
		Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				_ = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 1})
			})
		},
	}
}

// tcpProbe succeeds when a TCP connection opens within timeout and fails
// with the dial error otherwise ("dial tcp 10.42.0.5:8080: connect:
// connection refused"), as kubelet's DoTCPProbe.
func tcpProbe(ctx context.Context, host string, port int, timeout time.Duration) (result, string, error) {
	d := probeDialer()
	d.Timeout = timeout
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return failure, err.Error(), nil
	}
	_ = conn.Close()
	return success, "", nil
}
