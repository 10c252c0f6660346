package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/outlookflow/outlookflow/internal/certfile"
)

// Authority segments that name no single tenant: they let users of many
// tenants (or personal Microsoft accounts) sign in, so only delegated
// tenants may use them.
const (
	AuthorityOrganizations = "organizations"
	AuthorityCommon        = "common"
	AuthorityConsumers     = "consumers"
)

// MaxCredentialExpiryWarning bounds tenants[].credentialExpiryWarning.
const MaxCredentialExpiryWarning = 365 * 24 * time.Hour

func isMultiTenantAuthority(id string) bool {
	switch strings.ToLower(id) {
	case AuthorityOrganizations, AuthorityCommon, AuthorityConsumers:
		return true
	}
	return false
}

// validateMultiTenantAuthority refuses what the identity platform refuses:
// client credentials against an authority that is not one tenant, and
// personal accounts outside the global cloud.
func (c *Config) validateMultiTenantAuthority(v *validator, p string, t Tenant) {
	if t.AuthMode != AuthDelegated {
		v.add(p+".tenantID", "%q is not one tenant: app-only (client credentials) needs the tenant's ID or domain, and Microsoft refuses client credentials against common, organizations and consumers; set it to the Directory (tenant) ID (a GUID) or the tenant's domain (e.g. contoso.onmicrosoft.com), or set %s.authMode: delegated for signed-in users",
			t.TenantID, p)
		return
	}
	if strings.EqualFold(t.TenantID, AuthorityConsumers) && (c.Cloud.Name == CloudUSGov || c.Cloud.Name == CloudChina) {
		v.add(p+".tenantID", "%q (personal Microsoft accounts) exists only in the global cloud, not in cloud.name %s; use organizations or the tenant's ID or domain, or set cloud.name: global",
			t.TenantID, c.Cloud.Name)
	}
}

// validateTenantCredential checks the tenant's secret or certificate, the
// expiry settings and the delegated settings.
func (c *Config) validateTenantCredential(v *validator, p string, t Tenant) {
	hasSecret := t.Secret != (SecretRef{})
	hasCert := t.Certificate.IsSet()
	switch {
	case hasSecret && hasCert:
		v.add(p+".certificate", "is set together with %s.secret; a tenant authenticates with one credential: remove %s.secret to use the certificate, or remove %s.certificate to use the secret", p, p, p)
	case hasSecret:
		validateSecretRef(v, p+".secret", t.Secret)
	case hasCert:
		validateCertificate(v, p+".certificate", t.Certificate)
	case t.AuthMode == AuthDelegated:
		if !t.Delegated.DeviceCode {
			v.add(p+".delegated.deviceCode", "is false and the tenant has neither secret nor certificate, so no user could sign in; set %s.delegated.deviceCode: true (and allow public client flows on the app registration) to sign in with a device code, or set %s.secret or %s.certificate.file for the authorization-code flow", p, p, p)
		}
	default:
		v.add(p+".secret", "is missing; set %s.secret.env to the name of an environment variable, or .file to a file path; secrets are never written inline (or authenticate with a certificate instead: set %s.certificate.file)", p, p)
	}

	if t.SecretExpiresAt != "" {
		if _, err := ParseSecretExpiry(t.SecretExpiresAt); err != nil {
			v.add(p+".secretExpiresAt", "%q is not a date; write the secret's expiry as YYYY-MM-DD, e.g. 2027-03-01 (the Expires column under Certificates & secrets in the app registration)", t.SecretExpiresAt)
		} else if !hasSecret && hasCert {
			v.add(p+".secretExpiresAt", "applies to client secrets, but the tenant uses a certificate, whose expiry is read from the certificate itself; remove it")
		}
	}
	if t.CredentialExpiryWarning < 0 || t.CredentialExpiryWarning > MaxCredentialExpiryWarning {
		v.add(p+".credentialExpiryWarning", "is %s; set how long before the credential expires to start warning, from 0s to %s (e.g. 720h for 30 days), or remove it for the 720h default", t.CredentialExpiryWarning, MaxCredentialExpiryWarning)
	}
	c.validateDelegated(v, p, t, hasSecret || hasCert)
}

func validateCertificate(v *validator, key string, c Certificate) {
	if c.File == "" {
		v.add(key+".file", "is required; set it to the file holding the certificate and its private key: PEM, or PKCS#12 (.pfx/.p12) with %s.password", key)
	} else if b, err := readBounded(c.File, certfile.MaxSize); err != nil {
		v.add(key+".file", "cannot read %q (%v); set it to a readable PEM or PKCS#12 (.pfx) file holding the certificate and its private key", c.File, err)
	} else if certfile.IsPEM(b) {
		if problem := certfile.PEMProblem(b); problem != "" {
			v.add(key+".file", "%q %s", c.File, problem)
		} else if c.Password != (SecretRef{}) {
			v.add(key+".password", "is set but %q is an unencrypted PEM file; remove the password, or point %s.file at the .pfx it opens", c.File, key)
		}
	}
	if c.Password != (SecretRef{}) {
		validateSecretRef(v, key+".password", c.Password)
	}
}

// validateDelegated checks tenants[].delegated: only for delegated tenants;
// the redirect URL is https unless it is the worker on this machine.
func (c *Config) validateDelegated(v *validator, p string, t Tenant, hasCredential bool) {
	d := t.Delegated
	key := p + ".delegated"
	if t.AuthMode != AuthDelegated {
		if d != (Delegated{}) {
			v.add(key, "is only used with authMode delegated; remove it, or set %s.authMode: delegated", p)
		}
		return
	}
	if d.RedirectURL == "" {
		if hasCredential {
			v.add(key+".redirectURL", "is required: http.listen (%q) is not a loopback address with a fixed port, so the URL the user's browser reaches the worker at cannot be guessed; set it to https://HOST%s as registered under the app's Web redirect URIs (or set %s.delegated.deviceCode: true and remove the credential to sign in with device codes only)",
				c.HTTP.Listen, CallbackPath, p)
		}
		return
	}
	u, err := url.Parse(d.RedirectURL)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		v.add(key+".redirectURL", "%q is not an absolute URL; set it to the worker's callback as the browser reaches it, e.g. https://outlookflow.contoso.com%s", d.RedirectURL, CallbackPath)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		v.add(key+".redirectURL", "%q must not carry user info, a query or a fragment (Entra refuses such redirect URIs); use e.g. https://outlookflow.contoso.com%s", redactURL(u), CallbackPath)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		// Entra allows plain http redirect URIs only for localhost.
		v.add(key+".redirectURL", "%q is plain http to another machine; the identity platform accepts http only for localhost: use https (e.g. behind a TLS-terminating proxy)", d.RedirectURL)
	}
}

// ParseSecretExpiry reads tenants[].secretExpiresAt: a date (YYYY-MM-DD,
// taken as the start of that day in UTC, so warnings come early rather than
// late) or an RFC 3339 time.
func ParseSecretExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// CredentialExpiry is what the configuration tells about when a tenant's
// credential expires.
type CredentialExpiry struct {
	Kind       string    // "client secret" or "certificate"
	ExpiresAt  time.Time // zero: not known (a secret without secretExpiresAt)
	Thumbprint string    // the certificate's SHA-1 thumbprint, as the admin center shows it
}

// CredentialExpiry reads when the tenant's credential expires: a
// certificate's NotAfter (reading the file, and for a .pfx its password,
// now), or secretExpiresAt. lookupEnv nil means os.LookupEnv.
func (t Tenant) CredentialExpiry(lookupEnv LookupEnv) (CredentialExpiry, error) {
	if !t.Certificate.IsSet() {
		e := CredentialExpiry{Kind: "client secret"}
		if t.SecretExpiresAt == "" {
			return e, nil
		}
		at, err := ParseSecretExpiry(t.SecretExpiresAt)
		if err != nil {
			return e, fmt.Errorf("secretExpiresAt %q is not a date (YYYY-MM-DD)", t.SecretExpiresAt)
		}
		e.ExpiresAt = at
		return e, nil
	}
	e := CredentialExpiry{Kind: "certificate"}
	data, password, err := ReadCertificate(t.Certificate, lookupEnv)
	if err != nil {
		return e, err
	}
	certs, _, err := certfile.Parse(data, password)
	if err != nil {
		return e, fmt.Errorf("certificate file %s: %v", t.Certificate.File, err)
	}
	e.ExpiresAt, e.Thumbprint = certs[0].NotAfter, certfile.Thumbprint(certs[0])
	return e, nil
}

// ReadCertificate reads a certificate file and resolves its password
// (empty when none is configured). Callers read it each time they build a
// credential, so a replaced file is picked up without a restart. Errors
// name the file and the fix, never the password.
func ReadCertificate(c Certificate, lookupEnv LookupEnv) (data []byte, password string, err error) {
	if c.File == "" {
		return nil, "", errors.New("certificate.file is not set; point it at the certificate file (PEM or .pfx)")
	}
	data, err = readBounded(c.File, certfile.MaxSize)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, "", fmt.Errorf("certificate file %s cannot be read (%v); put the certificate and its private key there (PEM or .pfx), readable by this process", c.File, err)
	}
	if c.Password != (SecretRef{}) {
		password, err = ResolveSecret(c.Password, lookupEnv)
		if err != nil {
			return nil, "", fmt.Errorf("certificate password: %w", err)
		}
	}
	return data, password, nil
}
