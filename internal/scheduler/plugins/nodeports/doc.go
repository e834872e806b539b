// Package nodeports is upstream's NodePorts filter: two pods cannot hold
// the same host port and protocol on one node unless their host IPs
// differ (0.0.0.0 conflicts with every IP).
package nodeports
