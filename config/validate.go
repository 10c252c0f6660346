package config

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outlookflow/outlookflow/internal/permissions"
)

// KnownFeatures lists every feature a tenant may enable, in documentation
// order; internal/permissions owns the list (with each feature's Graph
// permissions), so the two cannot drift apart.
var KnownFeatures = permissions.Features()

// Log levels and formats accepted in logging.level and logging.format.
var (
	knownLogLevels  = []string{"debug", "info", "warn", "error"}
	knownLogFormats = []string{"json", "console"}
)

// MinVerifyInterval is the shortest allowed tenants[].verifyInterval.
const MinVerifyInterval = time.Minute

// MinSyncInterval is the shortest allowed tenants[].syncInterval: a sync
// round of a large tenant takes longer than that, and runs never overlap.
const MinSyncInterval = time.Minute

// Problem is one invalid setting: the key path and what is wrong with it,
// including how to fix it.
type Problem struct {
	Key     string // e.g. tenants[1].secret
	Message string
}

func (p Problem) String() string { return p.Key + ": " + p.Message }

// ValidationError lists every problem found by [Config.Validate].
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var sb strings.Builder
	if len(e.Problems) == 1 {
		sb.WriteString("invalid configuration: ")
		sb.WriteString(e.Problems[0].String())
		return sb.String()
	}
	fmt.Fprintf(&sb, "invalid configuration (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		sb.WriteString("\n  - ")
		sb.WriteString(p.String())
	}
	return sb.String()
}

type validator struct{ problems []Problem }

func (v *validator) add(key, format string, args ...any) {
	v.problems = append(v.problems, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

var (
	tenantKeyRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	guidRE        = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	domainRE      = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	hostnameRE    = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	encKeyIDRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	cloudNameList = "global, usgov, china, custom"
)

// Validate checks every setting and returns a *ValidationError listing all
// problems, each naming the key and how to fix it, or nil. It expects defaults
// to have been applied (Load does); file settings are checked on disk.
func (c *Config) Validate() error {
	v := &validator{}
	c.Temporal.validate(v)
	c.Cloud.validate(v)
	c.validateTenants(v)
	c.Logging.validate(v)
	c.Encryption.validate(v)
	c.HTTP.validate(v)
	c.Store.validate(v)
	c.Credentials.validate(v)
	c.Visibility.validate(v)
	c.Recipes.validate(v)
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

func (t Temporal) validate(v *validator) {
	if err := checkHostPort(t.Address); err != nil {
		v.add("temporal.address", "%q %v; set it to the Temporal frontend's host:port, e.g. 127.0.0.1:7233 (env %sTEMPORAL_ADDRESS)", t.Address, err, EnvPrefix)
	}
	if strings.TrimSpace(t.Namespace) == "" {
		v.add("temporal.namespace", "is empty; set it to the Temporal namespace, e.g. default")
	}
	if strings.TrimSpace(t.TaskQueue) == "" {
		v.add("temporal.taskQueue", "is empty; set it to the task queue the worker polls, e.g. outlookflow")
	}
	tls := t.TLS
	if tls.CAFile != "" {
		checkPEMFile(v, "temporal.tls.caFile", tls.CAFile, "the CA certificate(s) that signed the Temporal frontend's certificate")
	}
	if tls.CertFile != "" {
		checkReadable(v, "temporal.tls.certFile", tls.CertFile, "the client certificate (PEM)")
	}
	if tls.KeyFile != "" {
		checkReadable(v, "temporal.tls.keyFile", tls.KeyFile, "the client certificate's private key (PEM)")
	}
	if tls.CertFile != "" && tls.KeyFile == "" {
		v.add("temporal.tls.keyFile", "is empty but temporal.tls.certFile is set; mTLS needs both: set keyFile to the client key, or remove certFile")
	}
	if tls.KeyFile != "" && tls.CertFile == "" {
		v.add("temporal.tls.certFile", "is empty but temporal.tls.keyFile is set; mTLS needs both: set certFile to the client certificate, or remove keyFile")
	}
}

// IsEnabled reports whether TLS is used: Enabled is set, or any file is.
func (t TemporalTLS) IsEnabled() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != ""
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("is not host:port")
	}
	if host == "" {
		return fmt.Errorf("has no host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("has no valid port (1-65535)")
	}
	return nil
}

func (c Cloud) validate(v *validator) {
	if _, ok := knownClouds[c.Name]; !ok {
		v.add("cloud.name", "%q is not a known cloud; use one of %s (env %sCLOUD_NAME)", c.Name, cloudNameList, EnvPrefix)
		return
	}
	custom := c.Name == CloudCustom
	requiredHint := func(key, example string) {
		v.add(key, "is required when cloud.name is custom; set it to %s", example)
	}

	switch {
	case c.AuthorityHost == "" && custom:
		requiredHint("cloud.authorityHost", "the identity platform's base URL, e.g. https://login.microsoftonline.com/ or the simulator's https://127.0.0.1:PORT/")
	default:
		if _, err := httpsURL(c.AuthorityHost); err != nil {
			v.add("cloud.authorityHost", "%q %v; set it to an absolute https URL such as https://login.microsoftonline.com/", c.AuthorityHost, err)
		}
	}

	var graphHost string
	switch {
	case c.GraphBaseURL == "" && custom:
		requiredHint("cloud.graphBaseURL", "Graph's base URL ending in /v1.0, e.g. https://graph.microsoft.com/v1.0")
	default:
		u, err := httpsURL(c.GraphBaseURL)
		switch {
		case err != nil:
			v.add("cloud.graphBaseURL", "%q %v; set it to an absolute https URL such as https://graph.microsoft.com/v1.0", c.GraphBaseURL, err)
		case !strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/v1.0") && !strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/beta"):
			v.add("cloud.graphBaseURL", "%q must end in /v1.0 or /beta (the Graph API version), e.g. https://graph.microsoft.com/v1.0", c.GraphBaseURL)
			graphHost = u.Hostname()
		default:
			graphHost = u.Hostname()
		}
	}

	if u, err := httpsURL(c.GraphScope); err != nil || !strings.HasSuffix(u.Path, "/.default") {
		v.add("cloud.graphScope", "%q must be an https resource scope ending in /.default, e.g. https://graph.microsoft.com/.default", c.GraphScope)
	}

	switch {
	case len(c.AllowedGraphHosts) == 0 && custom:
		requiredHint("cloud.allowedGraphHosts", "the list of Graph host names the client may call, e.g. [graph.microsoft.com] or [127.0.0.1]")
	case len(c.AllowedGraphHosts) == 0:
		v.add("cloud.allowedGraphHosts", "is empty; list the host of cloud.graphBaseURL (%s), or remove the key to use the cloud's default", graphHost)
	default:
		found := false
		for i, h := range c.AllowedGraphHosts {
			key := fmt.Sprintf("cloud.allowedGraphHosts[%d]", i)
			if !isBareHost(h) {
				v.add(key, "%q must be a bare host name without scheme, port or path, e.g. graph.microsoft.com", h)
				continue
			}
			if strings.EqualFold(h, graphHost) {
				found = true
			}
		}
		if graphHost != "" && !found {
			v.add("cloud.allowedGraphHosts", "does not include %q, the host of cloud.graphBaseURL; add it, or the Graph client will refuse its own endpoint", graphHost)
		}
	}

	if c.CAFile != "" {
		checkPEMFile(v, "cloud.caFile", c.CAFile, "the CA certificate(s) that signed the identity and Graph endpoints' certificates")
	}
}

func httpsURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("is not a URL")
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("is not an https URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("has no host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("must not carry user info, query or fragment")
	}
	return u, nil
}

func isBareHost(h string) bool {
	if net.ParseIP(h) != nil && !strings.Contains(h, ":") {
		return true // IPv4 literal, e.g. the simulator on 127.0.0.1
	}
	if ip := net.ParseIP(h); ip != nil {
		return true // IPv6 literal without brackets or port
	}
	return len(h) <= 253 && hostnameRE.MatchString(h)
}

const maxSmallFileSize = 1 << 20

func checkReadable(v *validator, key, path, what string) []byte {
	b, err := readBounded(path, maxSmallFileSize)
	if err != nil {
		v.add(key, "cannot read %q (%v); set it to a readable file holding %s, or remove the key", path, err, what)
		return nil
	}
	return b
}

func checkPEMFile(v *validator, key, path, what string) {
	b := checkReadable(v, key, path, what)
	if b == nil {
		return
	}
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			v.add(key, "%q holds a certificate that does not parse (%v); replace it with a valid PEM certificate", path, err)
			return
		}
		n++
	}
	if n == 0 {
		v.add(key, "%q holds no PEM certificate; set it to a PEM file with %s (-----BEGIN CERTIFICATE-----)", path, what)
	}
}

func (c *Config) validateTenants(v *validator) {
	seen := map[string]int{}
	for i, t := range c.Tenants {
		p := fmt.Sprintf("tenants[%d]", i)
		switch {
		case t.Key == "":
			v.add(p+".key", "is required; set it to a short slug such as contoso (lower-case letters, digits and -, used in workflow IDs)")
		case !tenantKeyRE.MatchString(t.Key):
			v.add(p+".key", "%q is not a valid tenant key; use 1-63 lower-case letters, digits and -, starting with a letter or digit (it appears in workflow IDs and search attributes, so no personal data)", t.Key)
		default:
			if j, dup := seen[t.Key]; dup {
				v.add(p+".key", "%q is already used by tenants[%d]; give every tenant a unique key", t.Key, j)
			} else {
				seen[t.Key] = i
			}
		}

		switch {
		case t.TenantID == "":
			v.add(p+".tenantID", "is required; set it to the Directory (tenant) ID from the Entra admin center (a GUID) or the tenant's domain, e.g. contoso.onmicrosoft.com")
		case isMultiTenantAuthority(t.TenantID):
			c.validateMultiTenantAuthority(v, p, t)
		case !guidRE.MatchString(t.TenantID) && !(len(t.TenantID) <= 253 && domainRE.MatchString(t.TenantID)):
			v.add(p+".tenantID", "%q is neither a GUID nor a domain name; set it to the Directory (tenant) ID (e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47) or the tenant's domain (e.g. contoso.onmicrosoft.com)", t.TenantID)
		}

		switch {
		case t.ClientID == "":
			v.add(p+".clientID", "is required; set it to the app registration's Application (client) ID, a GUID")
		case !guidRE.MatchString(t.ClientID):
			v.add(p+".clientID", "%q is not a GUID; set it to the app registration's Application (client) ID, e.g. 11111111-2222-3333-4444-555555555555", t.ClientID)
		}

		switch t.AuthMode {
		case AuthAppOnly, AuthDelegated:
		default:
			v.add(p+".authMode", "%q is not a known auth mode; use app-only (client credentials) or delegated (signed-in user)", t.AuthMode)
		}

		c.validateTenantCredential(v, p, t)

		seenF := map[string]bool{}
		for j, f := range t.Features {
			fk := fmt.Sprintf("%s.features[%d]", p, j)
			switch {
			case !slices.Contains(KnownFeatures, f):
				if s := nearest(f, KnownFeatures); s != "" {
					v.add(fk, "%q is not a known feature (did you mean %q?); use one of %s", f, s, strings.Join(KnownFeatures, ", "))
				} else {
					v.add(fk, "%q is not a known feature; use one of %s", f, strings.Join(KnownFeatures, ", "))
				}
			case seenF[f]:
				v.add(fk, "%q is listed twice; remove the duplicate", f)
			}
			seenF[f] = true
		}

		if t.SyncInterval < MinSyncInterval {
			v.add(p+".syncInterval", "is %s; set it to at least %s (e.g. 15m), or remove it for the 15m default", t.SyncInterval, MinSyncInterval)
		}
		for _, w := range []struct {
			key  string
			days int
		}{{"calendarPastDays", t.CalendarPastDays}, {"calendarFutureDays", t.CalendarFutureDays}} {
			if w.days < 1 || w.days > MaxCalendarDays {
				v.add(p+"."+w.key, "is %d; set it to a number of days from 1 to %d, or remove it for the default (%d back, %d ahead)",
					w.days, MaxCalendarDays, DefaultCalendarPastDays, DefaultCalendarFutureDays)
			}
		}
		if t.VerifyInterval < MinVerifyInterval {
			v.add(p+".verifyInterval", "is %s; set it to at least %s (e.g. 6h), or remove it for the 6h default", t.VerifyInterval, MinVerifyInterval)
		}
	}
}

func validateSecretRef(v *validator, key string, r SecretRef) {
	switch {
	case r.Env == "" && r.File == "":
		v.add(key, "is missing; set %s.env to the name of an environment variable, or .file to a file path; secrets are never written inline", key)
	case r.Env != "" && r.File != "":
		v.add(key, "sets both env and file; keep exactly one: %s.env (an environment variable's name) or %s.file (a file path)", key, key)
	case r.Env != "" && !isEnvName(r.Env):
		v.add(key+".env", "is not an environment variable name; set it to a name such as CONTOSO_CLIENT_SECRET (letters, digits, _), never to the secret itself")
	}
}

// isEnvName reports whether s looks like a portable environment variable name.
func isEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (l Logging) validate(v *validator) {
	if !slices.Contains(knownLogLevels, l.Level) {
		v.add("logging.level", "%q is not a known level; use one of %s (env %sLOGGING_LEVEL)", l.Level, strings.Join(knownLogLevels, ", "), EnvPrefix)
	}
	if !slices.Contains(knownLogFormats, l.Format) {
		v.add("logging.format", "%q is not a known format; use json or console (env %sLOGGING_FORMAT)", l.Format, EnvPrefix)
	}
}

func (e Encryption) validate(v *validator) {
	if len(e.Keys) == 0 {
		v.add("encryption.keys", "has no keys; add at least one {id: ..., secret: {env: NAME}} whose value is a base64-encoded 32-byte key (generate one with: openssl rand -base64 32)")
	}
	ids := map[string]int{}
	for i, k := range e.Keys {
		p := fmt.Sprintf("encryption.keys[%d]", i)
		switch {
		case k.ID == "":
			v.add(p+".id", "is required; name the key, e.g. 2025-01 (the name is stored unencrypted beside each payload)")
		case !encKeyIDRE.MatchString(k.ID):
			v.add(p+".id", "%q is not a valid key id; use 1-64 letters, digits, '.', '_' or '-'", k.ID)
		default:
			if j, dup := ids[k.ID]; dup {
				v.add(p+".id", "%q is already used by encryption.keys[%d]; key ids must be unique", k.ID, j)
			} else {
				ids[k.ID] = i
			}
		}
		validateSecretRef(v, p+".secret", k.Secret)
	}
	switch {
	case e.ActiveKeyID == "":
		if len(e.Keys) > 0 {
			v.add("encryption.activeKeyID", "is empty; set it to the id of the key that encrypts new payloads (one of %s)", strings.Join(sortedKeys(ids), ", "))
		}
	default:
		if _, ok := ids[e.ActiveKeyID]; !ok && len(e.Keys) > 0 {
			v.add("encryption.activeKeyID", "%q names no key in encryption.keys; set it to one of %s", e.ActiveKeyID, strings.Join(sortedKeys(ids), ", "))
		} else if !ok {
			v.add("encryption.activeKeyID", "%q names no key because encryption.keys is empty; add the key to encryption.keys", e.ActiveKeyID)
		}
	}
}

func (h HTTP) validate(v *validator) {
	host, port, err := net.SplitHostPort(h.Listen)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 0 || n > 65535 || strings.ContainsAny(host, "/") {
		v.add("http.listen", "%q is not host:port; set it to the address the worker's HTTP endpoints listen on, e.g. 127.0.0.1:8081 (or 0.0.0.0:8081 in a container; port 0 picks a free port)", h.Listen)
	}
	for i, o := range h.CodecCORSOrigins {
		key := fmt.Sprintf("http.codecCORSOrigins[%d]", i)
		if o == "*" {
			v.add(key, "\"*\" would let any web page decrypt payloads; list the Web UI's origins, e.g. http://localhost:8233")
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			v.add(key, "%q is not an origin; write scheme://host[:port] as the browser shows the Web UI, e.g. http://localhost:8233", o)
		}
	}
	h.validateCodecAuth(v)
}

func (s Store) validate(v *validator) {
	switch s.Driver {
	case StoreSQLite:
		if strings.TrimSpace(s.Path) == "" {
			v.add("store.path", "is empty; set it to the SQLite database file, e.g. outlookflow.db")
		}
		if s.DSN != (SecretRef{}) {
			v.add("store.dsn", "is only used when store.driver is postgres; remove it, or set store.driver to postgres")
		}
	case StorePostgres:
		validateSecretRef(v, "store.dsn", s.DSN)
	default:
		v.add("store.driver", "%q is not a known store driver; use sqlite (embedded) or postgres (env %sSTORE_DRIVER)", s.Driver, EnvPrefix)
	}
}

func (c Credentials) validate(v *validator) {
	if strings.TrimSpace(c.Dir) == "" {
		v.add("credentials.dir", "is empty; set it to a directory the worker and the starter share, e.g. /var/lib/outlookflow/credentials (env %sCREDENTIALS_DIR)", EnvPrefix)
		return
	}
	if fi, err := os.Stat(c.Dir); err == nil && !fi.IsDir() {
		v.add("credentials.dir", "%q is a file, not a directory; point it at a directory (it is created, mode 0700, when missing)", c.Dir)
	}
}

func (vis Visibility) validate(v *validator) {
	for i, a := range vis.Admins {
		if !strings.Contains(a, "@") || strings.ContainsAny(a, " \t,;") {
			v.add(fmt.Sprintf("visibility.admins[%d]", i), "%q is not a UPN or mail address; write one per entry, e.g. it-admin@contoso.com", a)
		}
	}
}

func (r Recipes) validate(v *validator) {
	if r.Dir != "" {
		if st, err := os.Stat(r.Dir); err != nil || !st.IsDir() {
			v.add("recipes.dir", "%q is not a directory; create it, or point recipes.dir at the folder that holds the recipe files (env %sRECIPES_DIR)", r.Dir, EnvPrefix)
		}
	}
	seen := map[string]bool{}
	for i, s := range r.Summarizers {
		key := fmt.Sprintf("recipes.summarizers[%d]", i)
		switch {
		case s.Name == "":
			v.add(key+".name", "is empty; set it to the name summarize steps use (summarizer: NAME), e.g. openai")
		case s.Name == BuiltinSummarizer:
			v.add(key+".name", "%q is the built-in summarizer's name; pick another name for this endpoint", s.Name)
		case !tenantKeyRE.MatchString(s.Name):
			v.add(key+".name", "%q is not a valid name; use lower-case letters, digits and -, e.g. azure-gpt4o", s.Name)
		case seen[s.Name]:
			v.add(key+".name", "%q names two summarizers; give each its own name", s.Name)
		}
		seen[s.Name] = true
		validateSummarizerURL(v, key+".url", s.URL)
		if strings.TrimSpace(s.Model) == "" && !s.Azure {
			v.add(key+".model", "is empty; set it to the model to ask, e.g. gpt-4o-mini")
		}
		if s.APIKey != (SecretRef{}) || s.Azure {
			validateSecretRef(v, key+".apiKey", s.APIKey)
		}
		if s.Timeout < 0 || s.Timeout > 30*time.Minute {
			v.add(key+".timeout", "%s is out of range; set a duration between 1s and 30m, or leave it out for 2m", s.Timeout)
		}
	}
}

// BuiltinSummarizer is the name of the offline summarizer, which needs no
// configuration.
const BuiltinSummarizer = "builtin"

// validateSummarizerURL wants an absolute https URL, or http to a loopback
// host (a local model server): mail texts must not cross a network in
// clear.
func validateSummarizerURL(v *validator, key, raw string) {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		v.add(key, "%q is not an absolute URL; set it to the API's base, before /chat/completions: https://api.openai.com/v1, or https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT?api-version=2024-10-21", raw)
		return
	}
	shown := redactURL(u)
	if u.User != nil {
		v.add(key, "%q carries credentials; remove them and set apiKey to a secret reference", shown)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		v.add(key, "%q is plain http to another machine; use https (http is allowed only to localhost, for a local model server)", shown)
	}
	if strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/chat/completions") {
		v.add(key, "%q ends in /chat/completions, which outlookflow adds; remove it", shown)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL drops userinfo and query from a URL for a message.
func redactURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery = nil, ""
	return c.String()
}
