package runtime_test

import (
	_ "github.com/containerd/containerd"
	_ "github.com/containerd/containerd/cio"
	_ "github.com/google/go-containerregistry/pkg/v1/tarball"
	_ "github.com/google/nftables"
	_ "github.com/vishvananda/netlink"
	_ "k8s.io/apiserver/pkg/util/proxy"
	_ "k8s.io/cri-streaming/pkg/streaming/portforward"
	_ "k8s.io/cri-streaming/pkg/streaming/remotecommand"
)
