// Package certfile reads the certificate files tenants authenticate with:
// PEM (certificate and unencrypted private key) or PKCS#12 (.pfx/.p12,
// legacy or modern encryption). It links no Graph or identity SDK, so the
// starter can read a certificate's expiry too.
package certfile

import (
	"bytes"
	"crypto"
	"crypto/sha1" // #nosec G505 -- x5t (the SHA-1 thumbprint) is how Entra names certificates
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// MaxSize bounds a certificate file; a certificate with its chain is a few
// kilobytes.
const MaxSize = 1 << 20

// Parse reads a PEM file holding a certificate (and optionally its chain)
// with an unencrypted private key, or a PKCS#12 file protected by password
// (empty for none). It returns the certificates with the key's own
// certificate first.
func Parse(data []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	if IsPEM(data) {
		return parsePEM(data)
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, nil, errors.New("the PKCS#12 (.pfx) file's password is wrong; set certificate.password to the password it was exported with")
		}
		return nil, nil, fmt.Errorf("the file is neither PEM nor a PKCS#12 (.pfx) file this password opens: %v", err)
	}
	return append([]*x509.Certificate{leaf}, chain...), key, nil
}

// IsPEM reports whether data looks like a PEM file (rather than binary
// PKCS#12).
func IsPEM(data []byte) bool {
	return bytes.Contains(data, []byte("-----BEGIN "))
}

// PEMProblem checks a PEM file's shape without a password: it names what
// is missing or unusable, or returns "". Encrypted PEM keys are refused:
// azidentity cannot decrypt them.
func PEMProblem(data []byte) string {
	var certs, keys, encrypted int
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch {
		case blk.Type == "CERTIFICATE":
			if _, err := x509.ParseCertificate(blk.Bytes); err == nil {
				certs++
			}
		case blk.Type == "ENCRYPTED PRIVATE KEY", strings.HasSuffix(blk.Type, "PRIVATE KEY") && blk.Headers["Proc-Type"] != "":
			encrypted++
		case strings.HasSuffix(blk.Type, "PRIVATE KEY"):
			keys++
		}
	}
	switch {
	case certs == 0:
		return "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
	case encrypted > 0:
		return "holds an encrypted PEM private key, which the identity client cannot decrypt; export the certificate and key as a password-protected .pfx instead (openssl pkcs12 -export -in cert.pem -inkey key.pem -out cert.pfx) and set certificate.password, or store the key unencrypted with file permissions 0600"
	case keys == 0:
		return "holds no private key (-----BEGIN PRIVATE KEY-----); put the certificate and its private key in one PEM file, or use a .pfx"
	}
	return ""
}

func parsePEM(data []byte) ([]*x509.Certificate, crypto.PrivateKey, error) {
	if p := PEMProblem(data); p != "" {
		return nil, nil, errors.New("the PEM file " + p)
	}
	var certs []*x509.Certificate
	var key crypto.PrivateKey
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("the PEM file holds a certificate that does not parse: %v", err)
			}
			certs = append(certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if key != nil {
				return nil, nil, errors.New("the PEM file holds more than one private key; keep only the certificate's")
			}
			k, err := parsePrivateKey(blk)
			if err != nil {
				return nil, nil, fmt.Errorf("the PEM file's private key does not parse: %v", err)
			}
			key = k
		}
	}
	return leafFirst(certs, key), key, nil
}

func parsePrivateKey(blk *pem.Block) (crypto.PrivateKey, error) {
	switch blk.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(blk.Bytes)
	}
	return x509.ParsePKCS8PrivateKey(blk.Bytes)
}

// leafFirst moves the certificate whose public key matches key to the front.
func leafFirst(certs []*x509.Certificate, key crypto.PrivateKey) []*x509.Certificate {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return certs
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := signer.Public().(equaler)
	if !ok {
		return certs
	}
	for i, c := range certs {
		if pub.Equal(c.PublicKey) {
			out := append([]*x509.Certificate{c}, certs[:i]...)
			return append(out, certs[i+1:]...)
		}
	}
	return certs
}

// Leaf returns the first certificate of a PEM file, for its expiry,
// without needing the key or a password. It fails for PKCS#12 files.
func Leaf(data []byte) (*x509.Certificate, error) {
	if !IsPEM(data) {
		return nil, errors.New("not a PEM file")
	}
	certs, _, err := parsePEM(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// Thumbprint is the certificate's SHA-1 thumbprint in upper-case hex, as
// the Entra admin center shows it under Certificates & secrets.
func Thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw) // #nosec G401 -- a name, not a signature
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}
