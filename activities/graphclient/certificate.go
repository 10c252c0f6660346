package graphclient

import (
	"crypto"
	"crypto/x509"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/internal/certfile"
)

// certificateCredential builds a ClientCertificateCredential from the
// certificate file's contents the activity read just now. MSAL signs each
// token request's client assertion with the key (PS256, x5t#S256 header);
// x5c is sent only when configured.
func (c *Client) certificateCredential(creds activities.Credentials) (azcore.TokenCredential, error) {
	certs, key, err := parseCertificate(creds.Certificate, creds.CertificatePassword)
	if err != nil {
		return nil, &activities.GraphError{Kind: activities.KindMisconfigured,
			Message: "the tenant's certificate cannot be used: " + err.Error() + "; fix tenants[].certificate (a PEM with the certificate and its unencrypted key, or a .pfx and its password), then run `starter rotate --tenant KEY`"}
	}
	cred, err := azidentity.NewClientCertificateCredential(creds.TenantID, creds.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{
		ClientOptions:            c.identityClientOptions(),
		DisableInstanceDiscovery: !c.cloud.PublicMicrosoftCloud,
		SendCertificateChain:     creds.SendCertificateChain,
	})
	if err != nil {
		return nil, &activities.GraphError{Kind: activities.KindMisconfigured, Message: "building certificate credential: " + err.Error()}
	}
	return cred, nil
}

// parseCertificate reads a certificate file the way azidentity does
// (ParseCertificates: PEM, or PKCS#12 with SHA-1 based encryption) and
// falls back to a reader of modern PKCS#12 files (AES, SHA-256 MAC: what
// OpenSSL 3 and Windows export by default), which azidentity cannot open.
func parseCertificate(data []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	var pw []byte
	if password != "" {
		pw = []byte(password)
	}
	certs, key, err := azidentity.ParseCertificates(data, pw)
	if err == nil {
		return certs, key, nil
	}
	if certs, key, ferr := certfile.Parse(data, password); ferr == nil {
		return certs, key, nil
	} else if certfile.IsPEM(data) || password != "" {
		// certfile's message says what is wrong in operator terms.
		return nil, nil, ferr
	}
	return nil, nil, err
}
