// Package manifests holds the manifests built into the binary: the
// server's deploy controller (internal/deploy) applies them at start and
// keeps them applied, as k3s does with its packaged components.
//
// A built-in manifest may use template variables written %{NAME}%, as
// k3s's packaged manifests do; the deploy controller substitutes them
// before parsing and refuses a manifest that names a variable it was not
// given. The server gives:
//
//	%{CLUSTER_DNS}%     the cluster DNS address (default 10.43.0.10)
//	%{CLUSTER_DOMAIN}%  the cluster's DNS domain (default cluster.local)
//
// Manifests users put in <data-dir>/manifests are applied as written: no
// variables, so that a file means the same thing here and under
// `kubectl apply -f`.
//
// `mini server --disable NAME` leaves out the manifest NAME.yaml (and
// deletes what it deployed earlier); a file NAME.yaml.skip in
// <data-dir>/manifests leaves it alone.
package manifests

import (
	"embed"
	"io/fs"
)

//go:embed *.yaml
var builtin embed.FS

// FS is the built-in manifests, one file per add-on, named by the add-on.
func FS() fs.FS { return builtin }
