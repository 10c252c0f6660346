package certfile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

func selfSigned(t *testing.T, cn string) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func certBlock(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func TestParsePutsTheKeysCertificateFirst(t *testing.T) {
	ca, _ := selfSigned(t, "ca")
	leaf, key := selfSigned(t, "leaf")
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	data := certBlock(ca) + certBlock(leaf) + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	certs, k, err := Parse([]byte(data), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || certs[0].Subject.CommonName != "leaf" || !key.Equal(k) {
		t.Fatalf("certs %v, want the key's certificate first", certs)
	}
	if lc, err := Leaf([]byte(data)); err != nil || lc.Subject.CommonName != "leaf" {
		t.Fatalf("Leaf = %v, %v", lc, err)
	}
}

func TestPEMProblemNamesWhatIsMissing(t *testing.T) {
	c, key := selfSigned(t, "app")
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	rsaDER := x509.MarshalPKCS1PrivateKey(key)
	for _, tt := range []struct{ name, data, want string }{
		{"no certificate", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: rsaDER})), "holds no PEM certificate"},
		{"no key", certBlock(c), "holds no private key"},
		{"encrypted PKCS #8 key", certBlock(c) + "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "export the certificate and key as a password-protected .pfx"},
		{"legacy encrypted key", certBlock(c) + string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: rsaDER})), "encrypted PEM private key"},
		{"fine", certBlock(c) + string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := PEMProblem([]byte(tt.data))
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("PEMProblem = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseOpensPFXAndSaysWhenThePasswordIsWrong(t *testing.T) {
	c, key := selfSigned(t, "app")
	pfx, err := pkcs12.Modern.Encode(key, c, nil, "right")
	if err != nil {
		t.Fatal(err)
	}
	certs, k, err := Parse(pfx, "right")
	if err != nil || !certs[0].Equal(c) || !key.Equal(k) {
		t.Fatalf("Parse(pfx) = %v, %v", certs, err)
	}
	if _, _, err := Parse(pfx, "wrong"); err == nil || !strings.Contains(err.Error(), "password is wrong") {
		t.Fatalf("wrong password: %v", err)
	}
	if len(Thumbprint(c)) != 40 || strings.ToUpper(Thumbprint(c)) != Thumbprint(c) {
		t.Fatalf("thumbprint %q is not upper-case SHA-1 hex", Thumbprint(c))
	}
}
