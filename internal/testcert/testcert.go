// Package testcert makes self-signed certificates for the certificate-credential tests.
package testcert

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// AppCert is a self-signed RSA certificate as an app registration holds
// it, for the certificate-credential tests.
type AppCert struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// NewAppCert makes a certificate valid from an hour ago for a year.
func NewAppCert(t *testing.T) AppCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "outlookflow test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return AppCert{Cert: cert, Key: key}
}

// PublicPEM is what is uploaded to the app registration.
func (c AppCert) PublicPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM is the private key alone, PKCS #8.
func (c AppCert) KeyPEM(t *testing.T) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// PEMFile is what the worker reads: the certificate and its key.
func (c AppCert) PEMFile(t *testing.T) string {
	t.Helper()
	return string(c.PublicPEM()) + c.KeyPEM(t)
}

// PFX is the certificate and key as a PKCS #12 file, encoded by enc
// (pkcs12.LegacyDES as older tools write, pkcs12.Modern as OpenSSL 3 does).
func (c AppCert) PFX(t *testing.T, enc *pkcs12.Encoder, password string) []byte {
	t.Helper()
	b, err := enc.Encode(c.Key, c.Cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
