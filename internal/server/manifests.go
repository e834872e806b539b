package server

import (
	"path/filepath"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"mini.dev/mini/internal/deploy"
	"mini.dev/mini/internal/pki"
	"mini.dev/mini/manifests"
)

// identityDeploy applies manifests, which may hold anything: it is in
// system:masters, as k3s's deploy controller runs with the supervisor's
// admin rights.
var identityDeploy = identity{"system:mini-server", []string{"system:masters"}, "mini-deploy"}

// ManifestsDir is where a server applies users' manifests from.
func ManifestsDir(dataDir string) string { return filepath.Join(dataDir, "manifests") }

// newDeployer builds the deploy controller: the built-in manifests and
// those under <data-dir>/manifests, with the cluster's addresses as
// template variables.
func (s *Server) newDeployer(ca *pki.CA, apiAddr string) (*deploy.Deployer, error) {
	cfg, err := loopbackConfig(ca, apiAddr, identityDeploy)
	if err != nil {
		return nil, err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	domain := "cluster.local"
	if s.cfg.Node != nil && s.cfg.Node.ClusterDomain != "" {
		domain = s.cfg.Node.ClusterDomain
	}
	return deploy.New(deploy.Config{
		Client: client, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
		Builtin: manifests.FS(), Dir: ManifestsDir(s.cfg.DataDir), Disabled: s.cfg.Disable,
		Vars:   map[string]string{"CLUSTER_DNS": s.cfg.ClusterDNS, "CLUSTER_DOMAIN": domain},
		Resync: s.cfg.ManifestResync, Logger: s.cfg.Logger,
	})
}
