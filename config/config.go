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
	Key            string        `koanf:"key"`            // operator-chosen slug, [a-z0-9-], used in workflow IDs
	DisplayName    string        `koanf:"displayName"`    // human name; never put in IDs or search attributes
	TenantID       string        `koanf:"tenantID"`       // Entra tenant ID (GUID or domain)
	ClientID       string        `koanf:"clientID"`       // app registration's application (client) ID
	AuthMode       AuthMode      `koanf:"authMode"`       // default app-only
	Secret         SecretRef     `koanf:"secret"`         // where the client secret is read from
	Features       []string      `koanf:"features"`       // enabled features, default [directory, mail]
	VerifyInterval time.Duration `koanf:"verifyInterval"` // default 6h
	SyncInterval   time.Duration `koanf:"syncInterval"`   // how often the sync schedule runs, default 15m
	// CalendarPastDays and CalendarFutureDays bound the calendar window the
	// sync keeps (calendarView delta), default 30 days back and 180 ahead.
	CalendarPastDays   int `koanf:"calendarPastDays"`
	CalendarFutureDays int `koanf:"calendarFutureDays"`
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
}

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
