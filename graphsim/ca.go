package graphsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certAuthority is the simulator's private CA and the leaf certificate it
// serves. A fresh CA per Start keeps every test run isolated: nothing outside
// the run ever trusts it, and its key never touches the disk.
type certAuthority struct {
	caCert *x509.Certificate
	caPEM  []byte
	leaf   tls.Certificate
	caPool *x509.CertPool
}

// newCertAuthority creates an ECDSA P-256 CA and a leaf certificate for the
// loopback names plus hostname. Clients verify the leaf by name, so the SANs
// must cover every way tests and the demo reach the simulator.
func newCertAuthority(hostname string) (*certAuthority, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("graphsim: generate CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "graphsim test CA", Organization: []string{"outlookflow graphsim"}},
		NotBefore:             now.Add(-time.Hour), // tolerate small clock skew between processes
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("graphsim: create CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("graphsim: parse CA certificate: %w", err)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("graphsim: generate leaf key: %w", err)
	}
	dnsNames := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if hostname != "" && hostname != "localhost" {
		if ip := net.ParseIP(hostname); ip != nil {
			ips = append(ips, ip)
		} else {
			dnsNames = append(dnsNames, hostname)
		}
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: dnsNames[len(dnsNames)-1], Organization: []string{"outlookflow graphsim"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(397 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("graphsim: create leaf certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &certAuthority{
		caCert: caCert,
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		leaf: tls.Certificate{
			Certificate: [][]byte{leafDER, caDER},
			PrivateKey:  leafKey,
		},
		caPool: pool,
	}, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms; a fixed serial
		// would still produce a valid (if less unique) certificate.
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// writeCAFile writes the CA certificate (never a key) atomically, so a process
// polling for ca.pem never reads a half-written file.
func writeCAFile(dir string, caPEM []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("graphsim: create state dir: %w", err)
	}
	path := filepath.Join(dir, "ca.pem")
	tmp, err := os.CreateTemp(dir, ".ca-*.pem")
	if err != nil {
		return "", fmt.Errorf("graphsim: write CA file: %w", err)
	}
	if _, err := tmp.Write(caPEM); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", fmt.Errorf("graphsim: write CA file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("graphsim: write CA file: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("graphsim: write CA file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("graphsim: write CA file: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path, nil
	}
	return abs, nil
}
