// Package join is the joining side of `mini agent --join`: it turns a join
// token and a server URL into the node's identity (the cluster CA, a
// client certificate for system:node:<name> and a serving certificate for
// the node's endpoint), kept in the agent's data dir so that a restart
// keeps it.
//
// The token carries the hash of the server's CA. The CA is fetched once
// without verification, and trusted only if its hash matches; every later
// request verifies the server against it. Private keys are made here and
// never sent: the server signs certificate requests. The server's side is
// internal/apiserver/join.go; the wire format is package joinapi.
package join
