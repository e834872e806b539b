package pki

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig is what a kubeconfig for one user of one cluster says.
type Kubeconfig struct {
	Server  string // https://host:port
	Name    string // cluster, user and context name
	CAPEM   []byte
	CertPEM []byte
	KeyPEM  []byte
}

// Bytes renders the kubeconfig as YAML, with the credentials inline so the
// file works wherever it is copied.
func (k Kubeconfig) Bytes() ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[k.Name] = &clientcmdapi.Cluster{Server: k.Server, CertificateAuthorityData: k.CAPEM}
	cfg.AuthInfos[k.Name] = &clientcmdapi.AuthInfo{ClientCertificateData: k.CertPEM, ClientKeyData: k.KeyPEM}
	cfg.Contexts[k.Name] = &clientcmdapi.Context{Cluster: k.Name, AuthInfo: k.Name}
	cfg.CurrentContext = k.Name
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("rendering the kubeconfig: %w", err)
	}
	return b, nil
}
