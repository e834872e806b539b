#!/usr/bin/env bash
# Installs, only where missing, the host packages that mini's commands, tests
# and benchmarks need. It grows as mini does; every Makefile target that needs
# a host package calls it, so a fresh machine needs nothing installed by hand.
#
#   scripts/install-deps.sh [run|test|bench]...   (default: run test)
set -euo pipefail

missing=()
# need COMMAND PACKAGE: PACKAGE provides COMMAND.
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }

# node_packages: what the node agent runs pods with.
node_packages() {
	need containerd containerd
	need containerd-shim-runc-v2 containerd
	need runc runc
	need nft nftables         # not used by mini itself: `nft list ruleset` to inspect its tables
	need conntrack conntrack  # flushes stale UDP flows when endpoints go
	need ip iproute2
	[ -x /bin/busybox ] || missing+=(busybox-static) # the busybox test image is built from it
}

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(run test)
for group in "${groups[@]}"; do
	case "$group" in
	run)
		node_packages
		;;
	test)
		need gcc gcc # go test -race builds with cgo
		need curl curl # the README tour's test reaches the app as a user would
		node_packages
		;;
	bench)
		need etcd etcd-server # the store benchmark runs against etcd
		need iperf3 iperf3    # the network benchmark's TCP throughput
		;;
	*)
		echo "install-deps: unknown group $group (want run, test or bench)" >&2
		exit 2
		;;
	esac
done

[ ${#missing[@]} -gt 0 ] || exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing ${missing[*]}; run as root: sudo $0 ${groups[*]}" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
