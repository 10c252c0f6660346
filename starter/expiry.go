package main

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/outlookflow/outlookflow/config"
)

// credentialExpiry is what `starter status` says about a tenant's secret or
// certificate running out. The starter reads it from the configuration (and
// the certificate file) itself: the expiry is no secret, and the worker
// need not be asked.
type credentialExpiry struct {
	ExpiresAt *time.Time `json:"CredentialExpiresAt,omitempty"`
	// Warning, when set, says the credential expires within the tenant's
	// credentialExpiryWarning (or has expired, or its expiry could not be
	// read), and what to do.
	Warning string `json:"CredentialWarning,omitempty"`
}

// tenantCredentialExpiry checks t's credential at now.
func tenantCredentialExpiry(t config.Tenant, now time.Time, lookupEnv config.LookupEnv) credentialExpiry {
	e, err := t.CredentialExpiry(lookupEnv)
	if err != nil {
		return credentialExpiry{Warning: fmt.Sprintf("tenant %s: the %s's expiry cannot be read (%v); fix it before the worker needs it, then run `starter rotate --tenant %s`", t.Key, e.Kind, err, t.Key)}
	}
	if e.ExpiresAt.IsZero() {
		return credentialExpiry{}
	}
	at := e.ExpiresAt.UTC()
	out := credentialExpiry{ExpiresAt: &at}
	window := t.CredentialExpiryWarning
	if window == 0 {
		window = config.DefaultCredentialExpiryWarning
	}
	left := at.Sub(now)
	if left > window {
		return out
	}
	what := "the client secret"
	fix := fmt.Sprintf("create a new client secret under Certificates & secrets in the app registration, seal it with `starter rotate --tenant %s --secret-stdin` (or update the file tenants[].secret names and run `starter rotate --tenant %s`), and set secretExpiresAt to the new secret's expiry", t.Key, t.Key)
	if e.Kind == "certificate" {
		what = fmt.Sprintf("the certificate (thumbprint %s)", e.Thumbprint)
		fix = fmt.Sprintf("upload a new certificate to the app registration (Certificates & secrets), replace the file tenants[].certificate.file names with it and its key, and run `starter rotate --tenant %s`", t.Key)
	}
	date := at.Format(time.DateOnly)
	if left <= 0 {
		out.Warning = fmt.Sprintf("tenant %s: %s expired on %s (%s ago); the tenant cannot authenticate: %s", t.Key, what, date, days(-left), fix)
	} else {
		out.Warning = fmt.Sprintf("tenant %s: %s expires on %s (in %s); %s", t.Key, what, date, days(left), fix)
	}
	return out
}

// days says a duration in whole days, or hours under a day.
func days(d time.Duration) string {
	if d < 24*time.Hour {
		h := int(math.Ceil(d.Hours()))
		if h == 1 {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", h)
	}
	n := int(d / (24 * time.Hour))
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// printCredentialWarnings prints one WARNING line per row that has one,
// under the table.
func printCredentialWarnings(w io.Writer, rows []statusRow) {
	for _, r := range rows {
		if r.credentialExpiry.Warning != "" {
			fmt.Fprintln(w, "WARNING: "+r.credentialExpiry.Warning)
		}
	}
}
