// Package crilog writes and reads container logs in the CRI log format that
// containerd's CRI plugin writes and kubelet reads:
//
//	<RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>\n
//
// F marks the last (or only) part of a line, P a part that continues in the
// next record: a line longer than MaxLineBytes, or a trailing line without
// its newline when the stream closes. The runtime writes the file (Writer);
// the agent serves it to `kubectl logs` (ReadLogs) with kubelet's options:
// tail, since, timestamps, byte limit, stream choice and follow.
package crilog
