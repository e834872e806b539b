// Package volume prepares what a pod's containers see besides their
// image: the pod's volumes and its /etc/hosts, /etc/resolv.conf and
// /etc/hostname, laid out under RootDir/pods/<uid> as kubelet lays them
// out under /var/lib/kubelet/pods/<uid>.
//
// The moving parts, each in its own file:
//
//   - manager.go: SetUp (every volume, then each container's mounts),
//     TearDown, and Run, which re-reads the sources of mounted volumes
//     every Resync and rewrites what changed (kubelet's is eventual
//     within a minute; ours within a few seconds), then tells the agent;
//   - local.go: emptyDir (disk or tmpfs), hostPath type checks, fsGroup
//     ownership;
//   - sources.go: the files of configMap, secret, downwardAPI and
//     projected volumes, token.go the projected service-account tokens;
//   - atomic.go: kubelet's AtomicWriter (timestamped directory, ..data
//     symlink swapped by rename);
//   - mounts.go: volumeMounts with subPath and subPathExpr; unmounting;
//   - etc.go, dns.go: the pod's hosts, hostname and resolv.conf;
//   - pvc.go: persistentVolumeClaim volumes bound to node-local
//     (hostPath or local) PersistentVolumes.
package volume
