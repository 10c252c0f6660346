package activities

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func certificateTenant(verify func(context.Context, Credentials) (Verification, error), cert func() ([]byte, string, error)) *Tenant {
	return &Tenant{
		Graph: &fakeGraph{verify: verify},
		Tenants: dir{"contoso": {TenantID: "tid", ClientID: "cid", AuthMode: AuthAppOnly,
			ResolveSecret:        func() (string, error) { return "", errors.New("a certificate tenant's secret must not be read") },
			ResolveCertificate:   cert,
			SendCertificateChain: true}},
		Log: zap.NewNop(),
	}
}

func TestVerifyConnectionPassesTheCertificateReadAtCallTime(t *testing.T) {
	reads := 0
	var got Credentials
	a := certificateTenant(func(_ context.Context, c Credentials) (Verification, error) {
		got = c
		return Verification{}, nil
	}, func() ([]byte, string, error) {
		reads++
		return []byte("-----BEGIN CERTIFICATE-----"), "pfx-pass", nil
	})
	for range 2 {
		if res, err := a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso"}); err != nil || res.Outcome != OutcomeVerified {
			t.Fatalf("VerifyConnection = %+v, %v", res, err)
		}
	}
	if reads != 2 {
		t.Errorf("certificate read %d times for 2 checks, want every time (rotation is replacing the file)", reads)
	}
	if !got.UsesCertificate() || got.ClientSecret != "" || got.CertificatePassword != "pfx-pass" || !got.SendCertificateChain || got.TenantID != "tid" {
		t.Fatalf("credentials passed to Graph = %+v, want the certificate and no secret", got)
	}
}

func TestVerifyConnectionWithAnUnreadableCertificateIsMisconfigured(t *testing.T) {
	a := certificateTenant(func(context.Context, Credentials) (Verification, error) {
		t.Fatal("Graph must not be called without a certificate")
		return Verification{}, nil
	}, func() ([]byte, string, error) {
		return nil, "", errors.New("certificate file /run/secrets/app.pfx cannot be read (no such file or directory)")
	})
	res, err := a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso"})
	if err != nil || res.Outcome != OutcomeMisconfigured || !strings.Contains(res.Detail, "/run/secrets/app.pfx") {
		t.Fatalf("result %+v, %v; want Misconfigured naming the file", res, err)
	}
}

func TestVerifyConnectionARotatedSecretWinsOverTheCertificate(t *testing.T) {
	var got Credentials
	a := certificateTenant(func(_ context.Context, c Credentials) (Verification, error) {
		got = c
		return Verification{}, nil
	}, func() ([]byte, string, error) { return nil, "", errors.New("must not be read") })
	a.Vault = vaultFunc(func(string, string) (string, error) { return "sealed", nil })
	if _, err := a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso", CredentialVersion: "v1"}); err != nil {
		t.Fatal(err)
	}
	if got.ClientSecret != "sealed" || got.UsesCertificate() {
		t.Fatalf("credentials = %+v, want the sealed secret", got)
	}
}
