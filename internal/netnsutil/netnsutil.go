// Package netnsutil runs code inside Linux network namespaces and builds
// the veth links that join them, for the packages that work on namespaces
// (dns, network, proxy) and for their tests and benchmarks.
//
// The namespace of a thread, not of a process, is what a socket is born
// in, so each function here pins a goroutine to its OS thread for the
// switch. A thread is never handed back to the Go scheduler in a namespace
// other than the one it started in: when it cannot return, its goroutine
// exits still locked and the runtime ends the thread.
package netnsutil

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Do runs fn on a thread inside ns and returns its error. The sockets fn
// opens belong to ns for life, so they serve from any goroutine afterwards.
func Do(ns netns.NsHandle, fn func() error) error {
	return onThread(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter network namespace: %w", err)
		}
		return nil
	}, fn)
}

// DoInNew runs fn on a thread inside a new network namespace, for code
// that must keep the namespace alive some other way (a bind mount of
// /proc/thread-self/ns/net); the namespace goes once nothing holds it.
func DoInNew(fn func() error) error {
	return onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		return nil
	}, fn)
}

// onThread runs enter and then fn on a locked thread of a goroutine of its
// own, and puts the thread back in its original namespace; a thread that
// cannot go back stays locked and dies with the goroutine.
func onThread(enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open the current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := enter(); err != nil {
			// A failed setns or unshare leaves the thread where it was.
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		fnErr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(fnErr, fmt.Errorf("return to the previous network namespace: %w", err))
			return // still locked: the thread ends with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// New makes an anonymous network namespace with its loopback up; closing
// the handle frees it once nothing else is inside. The thread that made it
// is never unlocked and ends with its goroutine, so it runs nothing else
// inside the new namespace.
func New() (netns.NsHandle, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	rc := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.New() // also moves this thread into it
		if err != nil {
			rc <- result{netns.None(), fmt.Errorf("new network namespace: %w", err)}
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			h.Close()
			rc <- result{netns.None(), fmt.Errorf("loopback up in the new network namespace: %w", err)}
			return
		}
		rc <- result{h, nil}
	}()
	r := <-rc
	return r.h, r.err
}
