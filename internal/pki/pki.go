package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Validity of what this package issues. Leaf certificates are re-issued
// when they near expiry or their names change (see EnsureServing).
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
	clockSkew    = 5 * time.Minute // NotBefore is back-dated by this much
)

// CA is the cluster's certificate authority.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     crypto.Signer
}

// LoadOrCreateCA loads the CA from dir/ca.crt and dir/ca.key, or makes one.
func LoadOrCreateCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	if certErr == nil && keyErr == nil {
		cert, err := ParseCertPEM(certPEM)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", certPath, err)
		}
		key, err := ParseKeyPEM(keyPEM)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keyPath, err)
		}
		return &CA{Cert: cert, CertPEM: certPEM, key: key}, nil
	}
	if !errors.Is(certErr, os.ErrNotExist) || !errors.Is(keyErr, os.ErrNotExist) {
		return nil, fmt.Errorf("reading the CA in %s: %w", dir, errors.Join(certErr, keyErr))
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("mini-ca@%d", now.Unix())},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("making the CA: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{Cert: cert, CertPEM: encodeCert(der), key: key}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, err
	}
	if err := writeFiles(dir, file{"ca.key", keyPEM}, file{"ca.crt", ca.CertPEM}); err != nil {
		return nil, err
	}
	return ca, nil
}

// Request describes a certificate to issue.
type Request struct {
	CommonName   string   // the user, for client certificates
	Organization []string // the groups, for client certificates
	DNSNames     []string // serving certificates
	IPs          []net.IP // serving certificates
	Server       bool     // serving (true) or client (false) usage
}

// Issue signs a new key pair for req and returns the PEM certificate and key.
func (ca *CA) Issue(req Request) (certPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	if certPEM, err = ca.sign(key.Public(), req); err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	return certPEM, keyPEM, err
}

// SignCSR issues a certificate for the key of a PEM certificate request,
// as req describes it: the CA decides the names and usage, whatever the
// request asks for, so a requester proves only that it holds the key. The
// private key never leaves the requester.
func (ca *CA) SignCSR(csrPEM []byte, req Request) (certPEM []byte, err error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("no PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	return ca.sign(csr.PublicKey, req)
}

// NewCSR makes a key and a PEM certificate request for it naming req's
// subject and names.
func NewCSR(req Request) (csrPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: req.CommonName, Organization: req.Organization},
		DNSNames: req.DNSNames, IPAddresses: req.IPs,
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("making a certificate request: %w", err)
	}
	keyPEM, err = encodeKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), keyPEM, err
}

// sign issues a leaf certificate for pub.
func (ca *CA) sign(pub crypto.PublicKey, req Request) ([]byte, error) {
	now := time.Now()
	usage := x509.ExtKeyUsageClientAuth
	if req.Server {
		usage = x509.ExtKeyUsageServerAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: req.CommonName, Organization: req.Organization},
		DNSNames:     req.DNSNames,
		IPAddresses:  req.IPs,
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issuing %q: %w", req.CommonName, err)
	}
	return encodeCert(der), nil
}

// NeedsRenewal says whether a certificate is within the renewal window
// of its expiry (or unreadable), when this package re-issues.
func NeedsRenewal(certPEM []byte, now time.Time) bool {
	cert, err := ParseCertPEM(certPEM)
	return err != nil || cert.NotAfter.Sub(now) < renewBefore
}

// Pool is a cert pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// EnsureServing returns the serving certificate in dir/name.crt and .key,
// re-issuing it when it is missing, not signed by ca, near expiry, or lacks
// one of the wanted names (a laptop's new address, say).
func (ca *CA) EnsureServing(dir, name string, dnsNames []string, ips []net.IP) (certPEM, keyPEM []byte, err error) {
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	if certErr == nil && keyErr == nil && ca.servingIsCurrent(certPEM, dnsNames, ips) {
		return certPEM, keyPEM, nil
	}
	certPEM, keyPEM, err = ca.Issue(Request{CommonName: name, DNSNames: dnsNames, IPs: ips, Server: true})
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, writeFiles(dir, file{name + ".key", keyPEM}, file{name + ".crt", certPEM})
}

func (ca *CA) servingIsCurrent(certPEM []byte, dnsNames []string, ips []net.IP) bool {
	cert, err := ParseCertPEM(certPEM)
	if err != nil || cert.CheckSignatureFrom(ca.Cert) != nil || time.Until(cert.NotAfter) < renewBefore {
		return false
	}
	for _, n := range dnsNames {
		if !slices.Contains(cert.DNSNames, n) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

// ParseCertPEM parses the first certificate in a PEM block.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// ParseKeyPEM parses a PKCS#8, EC or PKCS#1 private key.
func ParseKeyPEM(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM private key")
	}
	var key any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	return signer, nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a key: %w", err)
	}
	return key, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding a key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// file is one file for writeFiles.
type file struct {
	name string
	data []byte
}

// writeFiles writes the files in order, each with mode 0600 through a
// temporary name; callers put a key before the certificate that names it.
func writeFiles(dir string, files ...file) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range files {
		if err := WriteFileAtomic(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// WriteFileAtomic writes data to path through a synced temporary file and a
// rename, so readers see the old content or the new, never a mix.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadOrCreateKey loads a private key from path, or makes one there: the
// service-account token signing key lives this way.
func LoadOrCreateKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	pemBytes, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return key, writeFiles(filepath.Dir(path), file{filepath.Base(path), pemBytes})
}
