package network

import "errors"

var (
	// ErrNoPodCIDR is returned by Setup before SetPodCIDR has succeeded:
	// there is no gateway to route the pod through yet.
	ErrNoPodCIDR = errors.New("pod CIDR not set")
	// ErrInvalidSandboxID is returned for a sandbox ID that cannot name a
	// file (empty, or holding a path separator or "..").
	ErrInvalidSandboxID = errors.New("invalid sandbox ID")
	// ErrNoPodIP is returned by Setup when none of the given addresses is
	// an IPv4 address inside the node's pod CIDR.
	ErrNoPodIP = errors.New("no IPv4 address in the pod CIDR")
	// ErrInvalidPortMapping is returned by Setup for a hostPort mapping
	// with an unknown protocol or an out-of-range port.
	ErrInvalidPortMapping = errors.New("invalid port mapping")

	// errNodeNetworkGone: the bridge or the table went away behind our
	// back; Setup puts them back (SetPodCIDR again) and retries.
	errNodeNetworkGone = errors.New("node network missing")
)
