// Package simnodes runs N simulated nodes inside the server process for
// --sim-nodes: each is a real agent (the same code a real node runs) on
// its own sim runtime. What would cost O(N) connections is shared: one pod
// informer and one node informer feed every agent through the agent's
// Source interface, and one event broadcaster records for all of them.
// Heartbeats are spread evenly over the renewal period, so a thousand
// nodes make about a hundred lease writes a second rather than bursts.
package simnodes
