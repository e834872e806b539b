// Package netnstest gives root tests throwaway network namespaces joined
// by veths, built with netnsutil and removed when the test ends.
package netnstest

import (
	"os"
	"testing"

	"github.com/vishvananda/netns"

	"mini.dev/mini/internal/netnsutil"
)

// RequireRoot skips a test that changes kernel state when not run as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
}

// New makes an anonymous network namespace with loopback up, freed when
// the test ends and the last handle closes.
func New(t testing.TB) netns.NsHandle {
	t.Helper()
	ns, err := netnsutil.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// Veth joins two namespaces with netnsutil.AddVeth or fails the test. The
// links go with their namespaces.
func Veth(t testing.TB, a, b netnsutil.End) {
	t.Helper()
	if err := netnsutil.AddVeth(a, b); err != nil {
		t.Fatal(err)
	}
}

// Route adds a route with netnsutil.AddRoute or fails the test.
func Route(t testing.TB, ns netns.NsHandle, dst, gw string) {
	t.Helper()
	if err := netnsutil.AddRoute(ns, dst, gw); err != nil {
		t.Fatal(err)
	}
}

// Do runs fn inside ns with netnsutil.Do or fails the test.
func Do(t testing.TB, ns netns.NsHandle, fn func() error) {
	t.Helper()
	if err := netnsutil.Do(ns, fn); err != nil {
		t.Fatal(err)
	}
}
