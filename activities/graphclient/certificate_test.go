package graphclient

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/outlookflow/outlookflow/activities"
)

type testCert struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

func newTestCert(t *testing.T) testCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "outlookflow"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCert{cert, key}
}

func (c testCert) publicPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
}

func (c testCert) pemWithKey(t *testing.T) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return append(c.publicPEM(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
}

func (c testCert) pfx(t *testing.T, enc *pkcs12.Encoder, password string) []byte {
	b, err := enc.Encode(c.key, c.cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCertificateReadsPEMAndLegacyAndModernPFX(t *testing.T) {
	c := newTestCert(t)
	for _, tt := range []struct {
		name     string
		data     []byte
		password string
	}{
		{"PEM", c.pemWithKey(t), ""},
		{"legacy PFX (azidentity)", c.pfx(t, pkcs12.LegacyDES, "pw"), "pw"},
		{"modern PFX (fallback)", c.pfx(t, pkcs12.Modern, "pw"), "pw"},
		{"PFX without password", c.pfx(t, pkcs12.Modern, ""), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			certs, key, err := parseCertificate(tt.data, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if !certs[0].Equal(c.cert) || !c.key.Equal(key) {
				t.Fatal("parsed another certificate or key")
			}
		})
	}
	// The two PFX kinds really take the two paths.
	if _, _, err := azidentity.ParseCertificates(c.pfx(t, pkcs12.LegacyDES, "pw"), []byte("pw")); err != nil {
		t.Errorf("azidentity does not open a legacy PFX itself: %v", err)
	}
	if _, _, err := azidentity.ParseCertificates(c.pfx(t, pkcs12.Modern, "pw"), []byte("pw")); err == nil {
		t.Error("azidentity opens a modern PFX itself; the fallback is no longer needed")
	}
	_, _, err := parseCertificate(c.pfx(t, pkcs12.Modern, "pw"), "wrong")
	if err == nil || !strings.Contains(err.Error(), "password is wrong") {
		t.Fatalf("wrong password: %v, want a message saying so", err)
	}
}

func TestVerifyWithACertificateThroughRealSDK(t *testing.T) {
	c, sim, creds := simClient(t, 1, []string{"User.Read.All"})
	registered, other := newTestCert(t), newTestCert(t)
	if _, err := sim.AddCertificate(creds[0].TenantID, creds[0].ClientID, registered.publicPEM()); err != nil {
		t.Fatal(err)
	}
	cc := creds[0]
	cc.ClientSecret = ""
	cc.Certificate, cc.CertificatePassword = registered.pfx(t, pkcs12.Modern, "pw"), "pw"
	v, err := c.Verify(context.Background(), cc)
	if err != nil || v.ProbeStatus != 200 {
		t.Fatalf("Verify with the registered certificate = %+v, %v", v, err)
	}

	cc.Certificate, cc.CertificatePassword = other.pemWithKey(t), ""
	_, err = c.Verify(context.Background(), cc)
	var ge *activities.GraphError
	if !errors.As(err, &ge) || ge.Kind != activities.KindInvalidCredentials || ge.Code != "AADSTS700027" {
		t.Fatalf("Verify with an unregistered certificate = %v, want InvalidCredentials AADSTS700027", err)
	}

	cc.Certificate = []byte("not a certificate")
	_, err = c.Verify(context.Background(), cc)
	if !errors.As(err, &ge) || ge.Kind != activities.KindMisconfigured || !strings.Contains(ge.Message, "tenants[].certificate") {
		t.Fatalf("Verify with garbage = %v, want Misconfigured naming tenants[].certificate", err)
	}
}
