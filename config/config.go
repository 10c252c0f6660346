// Package config is outlookflow's one typed configuration: a YAML file plus
// OUTLOOKFLOW_* environment overrides, defaults for the embedded demo, and
// validation whose messages name the key and say how to fix it.
package config

import "time"

// Config is the whole configuration of a worker or starter process.
type Config struct {
	Temporal    Temporal    `koanf:"temporal"`
	Cloud       Cloud       `koanf:"cloud"`
	Tenants     []Tenant    `koanf:"tenants"`
	Logging     Logging     `koanf:"logging"`
	Encryption  Encryption  `koanf:"encryption"`
	HTTP        HTTP        `koanf:"http"`
	Store       Store       `koanf:"store"`
	Credentials Credentials `koanf:"credentials"`
	Visibility  Visibility  `koanf:"visibility"`
	Recipes     Recipes     `koanf:"recipes"`
}

// Recipes says where recipe files live (one recipe per YAML file; see the
// recipe package). Dir "" means no recipes.
type Recipes struct {
	Dir string `koanf:"dir"`
	// Summarizers are the OpenAI-compatible chat-completions endpoints a
	// summarize step may name (summarizer: NAME) besides the built-in
	// offline one ("builtin", the default).
	Summarizers []Summarizer `koanf:"summarizers"`
}

// Summarizer is one OpenAI-compatible chat-completions endpoint. Requests
// go to URL + "/chat/completions" (URL's query kept, for Azure's
// api-version). Message texts reach it only from steps that set
// includeBodies.
type Summarizer struct {
	Name  string `koanf:"name"`  // what steps call it; [a-z0-9-], not "builtin"
	URL   string `koanf:"url"`   // e.g. https://api.openai.com/v1
	Model string `koanf:"model"` // e.g. gpt-4o-mini; Azure takes the deployment from the URL
	// APIKey is the key, by reference; none for a local server that needs
	// none. OpenAI gets it as Authorization: Bearer, Azure as api-key.
	APIKey SecretRef `koanf:"apiKey"`
	// Azure selects Azure OpenAI's api-key header.
	Azure bool `koanf:"azure"`
	// Timeout bounds one request, default 2m.
	Timeout time.Duration `koanf:"timeout"`
}

// Visibility configures who may read synced items (`starter messages --as`):
// everyone sees their own mailbox and their direct and indirect reports';
// Admins (UPNs or mail addresses) see every mailbox.
type Visibility struct {
	Admins []string `koanf:"admins"`
}

// Temporal says where the Temporal server is and how the worker talks to it.
type Temporal struct {
	Address   string      `koanf:"address"`   // host:port, default 127.0.0.1:7233
	Namespace string      `koanf:"namespace"` // default "default"
	TaskQueue string      `koanf:"taskQueue"` // default "outlookflow"
	TLS       TemporalTLS `koanf:"tls"`
}

// TemporalTLS configures (m)TLS to the Temporal frontend. Disabled when all fields are empty.
type TemporalTLS struct {
	Enabled    bool   `koanf:"enabled"`
	CAFile     string `koanf:"caFile"`
	CertFile   string `koanf:"certFile"`
	KeyFile    string `koanf:"keyFile"`
	ServerName string `koanf:"serverName"`
}

// CloudName selects a Microsoft cloud; "custom" takes the endpoints as given (the simulator).
type CloudName string

const (
	CloudGlobal CloudName = "global"
	CloudUSGov  CloudName = "usgov"
	CloudChina  CloudName = "china"
	CloudCustom CloudName = "custom"
)

// Cloud holds the identity-platform and Graph endpoints. For global, usgov and
// china the endpoints default to Microsoft's; custom requires them all.
type Cloud struct {
	Name              CloudName `koanf:"name"`              // default global
	AuthorityHost     string    `koanf:"authorityHost"`     // e.g. https://login.microsoftonline.com/
	GraphBaseURL      string    `koanf:"graphBaseURL"`      // e.g. https://graph.microsoft.com/v1.0
	GraphScope        string    `koanf:"graphScope"`        // e.g. https://graph.microsoft.com/.default
	AllowedGraphHosts []string  `koanf:"allowedGraphHosts"` // host names without port
	CAFile            string    `koanf:"caFile"`            // extra PEM CA trusted for both endpoints
}

// AuthMode is how outlookflow authenticates to a tenant.
type AuthMode string

const (
	AuthAppOnly   AuthMode = "app-only"
	AuthDelegated AuthMode = "delegated"
)

// Tenant is one connected Microsoft 365 tenant.
type Tenant struct {
	Key         string    `koanf:"key"`         // operator-chosen slug, [a-z0-9-], used in workflow IDs
	DisplayName string    `koanf:"displayName"` // human name; never put in IDs or search attributes
	TenantID    string    `koanf:"tenantID"`    // Entra tenant ID (GUID or domain)
	ClientID    string    `koanf:"clientID"`    // app registration's application (client) ID
	AuthMode    AuthMode  `koanf:"authMode"`    // default app-only
	Secret      SecretRef `koanf:"secret"`      // where the client secret is read from
	// Certificate authenticates the app with a certificate instead of a
	// client secret (exactly one of the two for app-only).
	Certificate Certificate `koanf:"certificate"`
	// SecretExpiresAt is the client secret's expiry date (YYYY-MM-DD, the
	// Expires column under Certificates & secrets), for expiry warnings; a
	// certificate's expiry is read from the certificate.
	SecretExpiresAt string `koanf:"secretExpiresAt"`
	// CredentialExpiryWarning is how long before the secret or certificate
	// expires `starter status` starts warning, default 720h (30 days).
	CredentialExpiryWarning time.Duration `koanf:"credentialExpiryWarning"`
	// Delegated configures the delegated flows (authMode delegated).
	Delegated Delegated `koanf:"delegated"`

	Features       []string      `koanf:"features"`       // enabled features, default [directory, mail]
	VerifyInterval time.Duration `koanf:"verifyInterval"` // default 6h
	SyncInterval   time.Duration `koanf:"syncInterval"`   // how often the sync schedule runs, default 15m
	// CalendarPastDays and CalendarFutureDays bound the calendar window the
	// sync keeps (calendarView delta), default 30 days back and 180 ahead.
	CalendarPastDays   int `koanf:"calendarPastDays"`
	CalendarFutureDays int `koanf:"calendarFutureDays"`
}

// Certificate is a certificate credential: a file holding the certificate
// and its private key, PEM or PKCS#12 (.pfx/.p12). The file is read each
// time a credential is built, so rotating it is replacing the file and
// running `starter rotate`; its contents never reach Temporal or the logs.
type Certificate struct {
	File string `koanf:"file"`
	// Password opens a PKCS#12 file, by reference; none for PEM.
	Password SecretRef `koanf:"password"`
	// SendCertificateChain sends the certificate chain (x5c) with each
	// token request, for apps that trust a certificate by subject name and
	// issuer instead of an uploaded certificate.
	SendCertificateChain bool `koanf:"sendCertificateChain"`
}

// IsSet reports whether any certificate setting is present.
func (c Certificate) IsSet() bool {
	return c.File != "" || c.Password != (SecretRef{}) || c.SendCertificateChain
}

// Delegated configures how a user signs in for an authMode delegated tenant.
type Delegated struct {
	// RedirectURL is the worker's /auth/callback as the user's browser
	// reaches it; it must be registered on the app as a Web redirect URI.
	// Default http://localhost:PORT/auth/callback when http.listen is a
	// loopback address; required, and https, otherwise.
	RedirectURL string `koanf:"redirectURL"`
	// DeviceCode allows the device-code flow (the app registration must
	// allow public client flows).
	DeviceCode bool `koanf:"deviceCode"`
}

// SecretRef points at a secret; exactly one of Env and File is set. Secrets are
// never written inline in committed files.
type SecretRef struct {
	Env  string `koanf:"env"`
	File string `koanf:"file"`
}

// Logging configures zap.
type Logging struct {
	Level  string `koanf:"level"`  // debug|info|warn|error, default info
	Format string `koanf:"format"` // json|console, default console
}

// Encryption configures the payload codec. Keys are 32-byte AES-256 keys given
// base64-encoded, by env var or file; ActiveKeyID encrypts, all keys decrypt.
type Encryption struct {
	ActiveKeyID string          `koanf:"activeKeyID"`
	Keys        []EncryptionKey `koanf:"keys"`
}

// EncryptionKey is one named key.
type EncryptionKey struct {
	ID     string    `koanf:"id"`
	Secret SecretRef `koanf:"secret"`
}

// HTTP configures the worker's HTTP listener: /healthz, the codec server that
// the Web UI and CLI call to decode payloads, and (later) the webhook receiver.
type HTTP struct {
	Listen string `koanf:"listen"` // host:port, default 127.0.0.1:8081; port 0 picks a free port
	// CodecCORSOrigins are the browser origins of the Temporal Web UI allowed to
	// call the codec server (the UI calls it from the browser, not its server).
	// Default [http://localhost:8233, http://127.0.0.1:8233].
	CodecCORSOrigins []string `koanf:"codecCORSOrigins"`
	// CodecAuth makes the codec server verify the OIDC access token the Web UI
	// sends (Authorization: Bearer, with the UI's codec passAccessToken on).
	// Required when Listen is not a loopback address.
	CodecAuth CodecAuth `koanf:"codecAuth"`
}

// CodecAuth is the OIDC issuer whose access tokens the codec server accepts:
// the token's signature must verify against the issuer's published keys
// (JWKS, found by discovery at Issuer/.well-known/openid-configuration), its
// iss must equal Issuer, its aud must contain Audience, and it must not have
// expired.
type CodecAuth struct {
	// Issuer is the issuer URL exactly as the token's iss claim carries it,
	// e.g. https://login.microsoftonline.com/TENANT-ID/v2.0. https, or http
	// to a loopback host.
	Issuer string `koanf:"issuer"`
	// Audience must be among the token's aud values: the API (or client) ID
	// the Web UI requests its access token for.
	Audience string `koanf:"audience"`
	// JWKSURL, when set, is used for the signing keys instead of discovery.
	JWKSURL string `koanf:"jwksURL"`
	// CAFile is an extra PEM CA bundle trusted when reaching the issuer (a
	// private IdP); the system roots stay trusted.
	CAFile string `koanf:"caFile"`
}

// IsSet reports whether any codec-auth setting is given.
func (a CodecAuth) IsSet() bool { return a != (CodecAuth{}) }

// Store drivers.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// Store says where synced data, cursors, trigger/action logs and connection
// secrets are kept.
type Store struct {
	Driver string    `koanf:"driver"` // sqlite (default, embedded) | postgres
	Path   string    `koanf:"path"`   // sqlite database file, default outlookflow.db
	DSN    SecretRef `koanf:"dsn"`    // postgres connection URL, by reference (it carries a password)
}

// Credentials says where secrets handed over at runtime (`starter rotate
// --secret-stdin`) are kept, sealed with the encryption keys. The worker and
// the starter must both reach the directory: run the starter on the worker's
// host, or share the directory as a volume.
type Credentials struct {
	Dir string `koanf:"dir"` // default "credentials"
}
