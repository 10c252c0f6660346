package graphclient

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/internal/testcert"
)

func TestParseCertificateReadsPEMAndLegacyAndModernPFX(t *testing.T) {
	c := testcert.NewAppCert(t)
	for _, tt := range []struct {
		name     string
		data     []byte
		password string
	}{
		{"PEM", []byte(c.PEMFile(t)), ""},
		{"legacy PFX (azidentity)", c.PFX(t, pkcs12.LegacyDES, "pw"), "pw"},
		{"modern PFX (fallback)", c.PFX(t, pkcs12.Modern, "pw"), "pw"},
		{"PFX without password", c.PFX(t, pkcs12.Modern, ""), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			certs, key, err := parseCertificate(tt.data, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if !certs[0].Equal(c.Cert) || !c.Key.Equal(key) {
				t.Fatal("parsed another certificate or key")
			}
		})
	}
	// The two PFX kinds really take the two paths.
	if _, _, err := azidentity.ParseCertificates(c.PFX(t, pkcs12.LegacyDES, "pw"), []byte("pw")); err != nil {
		t.Errorf("azidentity does not open a legacy PFX itself: %v", err)
	}
	if _, _, err := azidentity.ParseCertificates(c.PFX(t, pkcs12.Modern, "pw"), []byte("pw")); err == nil {
		t.Error("azidentity opens a modern PFX itself; the fallback is no longer needed")
	}
	_, _, err := parseCertificate(c.PFX(t, pkcs12.Modern, "pw"), "wrong")
	if err == nil || !strings.Contains(err.Error(), "password is wrong") {
		t.Fatalf("wrong password: %v, want a message saying so", err)
	}
}

func TestVerifyWithACertificateThroughRealSDK(t *testing.T) {
	c, sim, creds := simClient(t, 1, []string{"User.Read.All"})
	registered, other := testcert.NewAppCert(t), testcert.NewAppCert(t)
	if _, err := sim.AddCertificate(creds[0].TenantID, creds[0].ClientID, registered.PublicPEM()); err != nil {
		t.Fatal(err)
	}
	cc := creds[0]
	cc.ClientSecret = ""
	cc.Certificate, cc.CertificatePassword = registered.PFX(t, pkcs12.Modern, "pw"), "pw"
	v, err := c.Verify(context.Background(), cc)
	if err != nil || v.ProbeStatus != 200 {
		t.Fatalf("Verify with the registered certificate = %+v, %v", v, err)
	}

	cc.Certificate, cc.CertificatePassword = []byte(other.PEMFile(t)), ""
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
