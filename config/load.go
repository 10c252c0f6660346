package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/internal/suggest"
)

// EnvPrefix starts every environment variable that overrides a configuration key.
const EnvPrefix = "OUTLOOKFLOW_"

// EnvConfigPath is the environment variable that processes read the configuration
// file's path from (it is not itself a configuration key).
const EnvConfigPath = "OUTLOOKFLOW_CONFIG"

// Load builds the configuration in four layers, later ones winning:
//
//  1. built-in defaults (see the package's example.yaml);
//  2. the YAML file at path, when path is not empty;
//  3. environment overrides taken from environ (pass os.Environ(); nil means none);
//  4. cloud endpoint defaults for cloud.name, filling only what is still empty;
//
// and then validates the result (see [Config.Validate]).
//
// Environment naming rule: a variable overrides the key whose path, with every
// "." replaced by "_" and prefixed with OUTLOOKFLOW_, equals the variable's name
// ignoring case. So temporal.taskQueue is OUTLOOKFLOW_TEMPORAL_TASKQUEUE,
// temporal.tls.caFile is OUTLOOKFLOW_TEMPORAL_TLS_CAFILE and
// cloud.allowedGraphHosts is OUTLOOKFLOW_CLOUD_ALLOWEDGRAPHHOSTS (a
// comma-separated list). Booleans take true/false/1/0. Only scalar and list-of-
// string keys outside lists have variables: tenants and encryption keys are
// configured in the file (encryption.activeKeyID does have one, for rotation);
// a secret reference's fields do (OUTLOOKFLOW_STORE_DSN_ENV names the variable
// holding store.dsn). A variable set to the empty string is ignored. An
// OUTLOOKFLOW_TEMPORAL_*, _CLOUD_*, _LOGGING_*, _HTTP_*, _STORE_* or _CREDENTIALS_* variable
// that names no key is an error (a typo must not be silently ignored); other
// OUTLOOKFLOW_* variables, such as OUTLOOKFLOW_CONFIG, are left alone. Name the
// variables that hold secrets without the OUTLOOKFLOW_ prefix to keep them apart.
//
// Unknown keys in the file are errors that name the key and suggest the nearest
// known one; YAML syntax errors name the file and line. Inline secrets are
// rejected: a secret is always a reference, {env: NAME} or {file: PATH}.
func Load(path string, environ []string) (*Config, error) {
	source := "configuration"
	ko := koanf.New(".")
	if err := ko.Load(confmap.Provider(defaultValues(), "."), nil); err != nil {
		return nil, fmt.Errorf("config defaults: %w", err)
	}
	if path != "" {
		source = fmt.Sprintf("config file %s", path)
		if err := loadFile(ko, path); err != nil {
			return nil, err
		}
	}
	if err := loadEnv(ko, environ); err != nil {
		return nil, err
	}

	var cfg Config
	dc := &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			dateToStringHook,
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		TagName:          "koanf",
		MatchName:        func(mapKey, fieldName string) bool { return mapKey == fieldName },
	}
	if err := ko.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{DecoderConfig: dc}); err != nil {
		return nil, fmt.Errorf("%s: %s (fix the value's type: durations look like 90s, 10m or 6h, booleans are true or false, lists are [a, b])",
			source, strings.ReplaceAll(err.Error(), "\n\n", " "))
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return &cfg, nil
}

// defaultValues are the defaults that do not depend on other keys.
func defaultValues() map[string]any {
	return map[string]any{
		"temporal.address":   "127.0.0.1:7233",
		"temporal.namespace": "default",
		"temporal.taskQueue": "outlookflow",
		"cloud.name":         string(CloudGlobal),
		"logging.level":      "info",
		"logging.format":     "console",
		"http.listen":        "127.0.0.1:8081",
		"store.driver":       StoreSQLite,
		"credentials.dir":    defaultCredentialsDir,
	}
}

// The calendar window's defaults, in days back and ahead of today.
const (
	DefaultCalendarPastDays   = 30
	DefaultCalendarFutureDays = 180
	// MaxCalendarDays bounds each side of the window: a wider one costs a
	// full re-read of years of meetings every week for little use.
	MaxCalendarDays = 1825
)

// Tenant defaults, applied per tenant after decoding.
const (
	defaultAuthMode       = AuthAppOnly
	defaultVerifyInterval = 6 * time.Hour
	defaultSyncInterval   = 15 * time.Minute
	// DefaultCredentialExpiryWarning is how long before a secret or
	// certificate expires `starter status` warns by default.
	DefaultCredentialExpiryWarning = 30 * 24 * time.Hour
)

// dateToStringHook keeps a YAML date (secretExpiresAt: 2027-03-01, which
// the parser reads as a timestamp) as the string it was written as.
func dateToStringHook(from, to reflect.Type, data any) (any, error) {
	t, ok := data.(time.Time)
	if !ok || to.Kind() != reflect.String {
		return data, nil
	}
	if t.Equal(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())) {
		return t.Format(time.DateOnly), nil
	}
	return t.Format(time.RFC3339), nil
}

var defaultFeatures = []string{permissions.FeatureDirectory, permissions.FeatureMail}

// applyDefaults fills per-tenant and per-cloud defaults into empty fields.
func (c *Config) applyDefaults() {
	for i := range c.Tenants {
		t := &c.Tenants[i]
		if t.AuthMode == "" {
			t.AuthMode = defaultAuthMode
		}
		if t.Features == nil {
			t.Features = append([]string(nil), defaultFeatures...)
		}
		if t.VerifyInterval == 0 {
			t.VerifyInterval = defaultVerifyInterval
		}
		if t.SyncInterval == 0 {
			t.SyncInterval = defaultSyncInterval
		}
		if t.CalendarPastDays == 0 {
			t.CalendarPastDays = DefaultCalendarPastDays
		}
		if t.CalendarFutureDays == 0 {
			t.CalendarFutureDays = DefaultCalendarFutureDays
		}
		if t.CredentialExpiryWarning == 0 {
			t.CredentialExpiryWarning = DefaultCredentialExpiryWarning
		}
		if t.AuthMode == AuthDelegated && t.Delegated.RedirectURL == "" {
			t.Delegated.RedirectURL = c.HTTP.defaultRedirectURL()
		}
	}
	c.Cloud.applyDefaults()
	if c.HTTP.CodecCORSOrigins == nil {
		c.HTTP.CodecCORSOrigins = append([]string(nil), defaultCodecCORSOrigins...)
	}
	if c.Store.Driver == StoreSQLite && c.Store.Path == "" {
		c.Store.Path = defaultSQLitePath
	}
	if c.Credentials.Dir == "" {
		c.Credentials.Dir = defaultCredentialsDir
	}
}

// CallbackPath is where the worker's HTTP listener takes the identity
// platform's redirect after a user signs in.
const CallbackPath = "/auth/callback"

// defaultRedirectURL is http://localhost:PORT/auth/callback when the
// listener is on a loopback address with a fixed port, else "" (the
// browser's URL cannot be guessed: it must be configured).
func (h HTTP) defaultRedirectURL() string {
	host, port, err := net.SplitHostPort(h.Listen)
	if err != nil || port == "0" || port == "" || !isLoopback(host) {
		return ""
	}
	// Entra accepts http redirect URIs only for localhost.
	return "http://localhost:" + port + CallbackPath
}

// defaultCodecCORSOrigins are the origins of a Web UI on the local machine.
var defaultCodecCORSOrigins = []string{"http://localhost:8233", "http://127.0.0.1:8233"}

const defaultSQLitePath = "outlookflow.db"

const defaultCredentialsDir = "credentials"

// cloudEndpoints are Microsoft's endpoints for one cloud.
type cloudEndpoints struct {
	authorityHost, graphBaseURL, graphScope string
	allowedGraphHosts                       []string
}

var knownClouds = map[CloudName]cloudEndpoints{
	CloudGlobal: {
		authorityHost:     "https://login.microsoftonline.com/",
		graphBaseURL:      "https://graph.microsoft.com/v1.0",
		graphScope:        "https://graph.microsoft.com/.default",
		allowedGraphHosts: []string{"graph.microsoft.com"},
	},
	CloudUSGov: {
		authorityHost:     "https://login.microsoftonline.us/",
		graphBaseURL:      "https://graph.microsoft.us/v1.0",
		graphScope:        "https://graph.microsoft.us/.default",
		allowedGraphHosts: []string{"graph.microsoft.us"},
	},
	CloudChina: {
		authorityHost:     "https://login.chinacloudapi.cn/",
		graphBaseURL:      "https://microsoftgraph.chinacloudapi.cn/v1.0",
		graphScope:        "https://microsoftgraph.chinacloudapi.cn/.default",
		allowedGraphHosts: []string{"microsoftgraph.chinacloudapi.cn"},
	},
	// custom requires authorityHost, graphBaseURL and allowedGraphHosts.
	CloudCustom: {
		graphScope: "https://graph.microsoft.com/.default",
	},
}

// applyDefaults fills empty endpoint fields from the named cloud's defaults;
// explicit values always win. Unknown names are left for Validate to report.
func (c *Cloud) applyDefaults() {
	d, ok := knownClouds[c.Name]
	if !ok {
		return
	}
	if c.AuthorityHost == "" {
		c.AuthorityHost = d.authorityHost
	}
	if c.GraphBaseURL == "" {
		c.GraphBaseURL = d.graphBaseURL
	}
	if c.GraphScope == "" {
		c.GraphScope = d.graphScope
	}
	if c.AllowedGraphHosts == nil && d.allowedGraphHosts != nil {
		c.AllowedGraphHosts = append([]string(nil), d.allowedGraphHosts...)
	}
}

// IsPublicMicrosoftCloud reports whether the endpoints belong to one of
// Microsoft's clouds (global, usgov, china) rather than a custom deployment
// such as the Graph simulator.
func (c Cloud) IsPublicMicrosoftCloud() bool {
	switch c.Name {
	case CloudGlobal, CloudUSGov, CloudChina:
		return true
	}
	return false
}

// maxConfigFileSize bounds the configuration file; anything larger is a mistake.
const maxConfigFileSize = 4 << 20

// loadFile merges the YAML file at path into ko after checking it for syntax
// errors, unknown keys and inline secrets.
func loadFile(ko *koanf.Koanf, path string) error {
	source := fmt.Sprintf("config file %s", path)
	b, err := readBounded(path, maxConfigFileSize)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	fk := koanf.New(".")
	if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
		return yamlError(source, err)
	}
	var problems []error
	checkKeys(fk.Raw(), reflect.TypeFor[Config](), nil, func(p keyPath, msg string) {
		where := source
		if line := lineOf(b, p); line > 0 {
			where = fmt.Sprintf("%s, line %d", source, line)
		}
		problems = append(problems, fmt.Errorf("%s: %s", where, msg))
	})
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	// A key left empty (every child commented out) means "not set", so it
	// keeps its default instead of erasing it.
	raw := fk.Raw()
	dropNulls(raw)
	return ko.Load(confmap.Provider(raw, ""), nil)
}

// dropNulls deletes null values from m and its nested mappings.
func dropNulls(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(v)
		}
	}
}

// readBounded reads a regular file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed", path, fi.Size(), limit)
	}
	return os.ReadFile(path)
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// yamlError turns a YAML parser error into "config file F, line N: invalid YAML: ...".
func yamlError(source string, err error) error {
	var te *yamlv3.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var errs []error
	for _, m := range msgs {
		m = strings.TrimSpace(m)
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			errs = append(errs, fmt.Errorf("%s, line %s: invalid YAML: %s", source, sm[1], sm[2]))
		} else {
			errs = append(errs, fmt.Errorf("%s: invalid YAML: %s", source, m))
		}
	}
	return errors.Join(errs...)
}

// keyPath is a path into the configuration: string keys and int list indexes.
type keyPath []any

func (p keyPath) String() string {
	var sb strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case int:
			fmt.Fprintf(&sb, "[%d]", s)
		default:
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			fmt.Fprint(&sb, s)
		}
	}
	return sb.String()
}

func (p keyPath) with(seg any) keyPath {
	return append(append(keyPath(nil), p...), seg)
}

var (
	secretRefType = reflect.TypeFor[SecretRef]()
	durationType  = reflect.TypeFor[time.Duration]()
)

// koanfFields maps the koanf tags of struct type t to their fields.
func koanfFields(t reflect.Type) map[string]reflect.StructField {
	out := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if tag := f.Tag.Get("koanf"); tag != "" && tag != "-" {
			out[tag] = f
		}
	}
	return out
}

// checkKeys walks a parsed YAML map against struct type t and reports keys
// that t does not have, values of the wrong shape, and inline secrets.
func checkKeys(m map[string]any, t reflect.Type, at keyPath, report func(keyPath, string)) {
	fields := koanfFields(t)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		p := at.with(k)
		f, ok := fields[k]
		if !ok {
			report(p, unknownKeyMessage(t, at, k))
			continue
		}
		checkValue(v, f.Type, p, report)
	}
}

func checkValue(v any, t reflect.Type, p keyPath, report func(keyPath, string)) {
	if v == nil {
		return
	}
	switch {
	case t == secretRefType:
		mv, ok := v.(map[string]any)
		if !ok {
			report(p, inlineSecretMessage(p))
			return
		}
		for k := range mv {
			if k != "env" && k != "file" {
				report(p, inlineSecretMessage(p))
				return
			}
		}
	case t.Kind() == reflect.Struct:
		mv, ok := v.(map[string]any)
		if !ok {
			report(p, fmt.Sprintf("unexpected %s; %q is a mapping of keys (%s)", yamlKind(v), p, strings.Join(sortedKeys(koanfFields(t)), ", ")))
			return
		}
		checkKeys(mv, t, p, report)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		sv, ok := v.([]any)
		if !ok {
			report(p, fmt.Sprintf("unexpected %s; %q is a list; write each entry on its own line starting with \"- \"", yamlKind(v), p))
			return
		}
		for i, e := range sv {
			checkValue(e, t.Elem(), p.with(i), report)
		}
	}
}

func yamlKind(v any) string {
	switch v.(type) {
	case map[string]any, map[any]any:
		return "mapping"
	case []any:
		return "list"
	default:
		return "scalar value"
	}
}

func inlineSecretMessage(p keyPath) string {
	return fmt.Sprintf("inline secrets are not allowed; set %s.env to the name of an environment variable, or .file to a file path; secrets are never written inline", p)
}

func unknownKeyMessage(t reflect.Type, at keyPath, k string) string {
	full := at.with(k)
	if strings.Contains(k, ".") {
		return fmt.Sprintf("unknown key %q: keys must not contain \".\"; nest them instead (%q becomes %q under %q)", full, k, k[strings.LastIndex(k, ".")+1:], k[:strings.LastIndex(k, ".")])
	}
	if s := nearest(k, sortedKeys(koanfFields(t))); s != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", full, at.with(s))
	}
	return fmt.Sprintf("unknown key %q; known keys here are %s", full, strings.Join(sortedKeys(koanfFields(t)), ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// nearest returns the candidate closest to s (ignoring case) when it is close
// enough to be a plausible typo, or "".
func nearest(s string, candidates []string) string {
	best, bestD := "", -1
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := suggest.Distance(ls, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(2, len(s)/3) {
		return ""
	}
	return best
}

// lineOf finds the line of the key at p in the YAML document b, or 0.
func lineOf(b []byte, p keyPath) int {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(b, &doc); err != nil || len(doc.Content) == 0 {
		return 0
	}
	n := doc.Content[0]
	line := 0
	for _, seg := range p {
		for n.Kind == yamlv3.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		switch seg := seg.(type) {
		case string:
			if n.Kind != yamlv3.MappingNode {
				return line
			}
			var next *yamlv3.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg {
					line, next = n.Content[i].Line, n.Content[i+1]
					break
				}
			}
			if next == nil {
				return line
			}
			n = next
		case int:
			if n.Kind != yamlv3.SequenceNode || seg >= len(n.Content) {
				return line
			}
			n = n.Content[seg]
			line = n.Line
		}
	}
	return line
}

// envKind is how an environment variable's value is parsed.
type envKind int

const (
	envString envKind = iota
	envBool
	envStringList
	envDuration
)

type envKey struct {
	path string
	kind envKind
}

// envKeys maps upper-case variable names without the prefix (TEMPORAL_TLS_CAFILE)
// to configuration keys (temporal.tls.caFile).
var envKeys = func() map[string]envKey {
	out := map[string]envKey{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for tag, f := range koanfFields(t) {
			path := tag
			if prefix != "" {
				path = prefix + "." + tag
			}
			ft := f.Type
			var kind envKind
			switch {
			case ft == durationType:
				kind = envDuration
			case ft.Kind() == reflect.Struct:
				walk(ft, path)
				continue
			case ft.Kind() == reflect.String:
				kind = envString
			case ft.Kind() == reflect.Bool:
				kind = envBool
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
				kind = envStringList
			default: // lists of structs (tenants, encryption keys) live in the file
				continue
			}
			out[strings.ToUpper(strings.ReplaceAll(path, ".", "_"))] = envKey{path: path, kind: kind}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}()

// EnvVarNames lists the environment variables that override configuration keys,
// mapped to the key each one sets.
func EnvVarNames() map[string]string {
	out := make(map[string]string, len(envKeys))
	for name, k := range envKeys {
		out[EnvPrefix+name] = k.path
	}
	return out
}

// strictEnvSections are the OUTLOOKFLOW_<SECTION>_ prefixes in which a variable
// that names no key is an error rather than ignored.
var strictEnvSections = []string{"TEMPORAL_", "CLOUD_", "LOGGING_", "HTTP_", "STORE_", "CREDENTIALS_", "VISIBILITY_", "RECIPES_"}

func loadEnv(ko *koanf.Koanf, environ []string) error {
	var problems []error
	p := env.Provider(".", env.Opt{
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			if len(name) < len(EnvPrefix) || !strings.EqualFold(name[:len(EnvPrefix)], EnvPrefix) {
				return "", nil
			}
			rest := strings.ToUpper(name[len(EnvPrefix):])
			value = strings.TrimSpace(value)
			k, ok := envKeys[rest]
			if !ok {
				for _, s := range strictEnvSections {
					if strings.HasPrefix(rest, s) {
						problems = append(problems, unknownEnvError(name, rest))
						break
					}
				}
				return "", nil
			}
			if value == "" {
				return "", nil
			}
			v, err := parseEnvValue(k.kind, value)
			if err != nil {
				problems = append(problems, fmt.Errorf("environment variable %s (sets %s): %w", name, k.path, err))
				return "", nil
			}
			return k.path, v
		},
	})
	if err := ko.Load(p, nil); err != nil {
		return fmt.Errorf("environment overrides: %w", err)
	}
	return errors.Join(problems...)
}

func unknownEnvError(name, rest string) error {
	names := sortedKeys(envKeys)
	var children []string
	for _, n := range names {
		if strings.HasPrefix(n, rest+"_") {
			children = append(children, EnvPrefix+n)
		}
	}
	if len(children) > 0 {
		return fmt.Errorf("environment variable %s names a group of keys, not a key (did you mean %s?)", name, strings.Join(children, " or "))
	}
	if s := nearest(rest, names); s != "" {
		return fmt.Errorf("environment variable %s names no configuration key (did you mean %s%s?)", name, EnvPrefix, s)
	}
	return fmt.Errorf("environment variable %s names no configuration key; unset it or use one of the %s* variables documented in config.Load", name, EnvPrefix)
}

func parseEnvValue(kind envKind, value string) (any, error) {
	switch kind {
	case envBool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean; use true or false", value)
		}
		return b, nil
	case envStringList:
		var out []any
		for _, s := range strings.Split(value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	case envDuration:
		d, err := time.ParseDuration(value)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration; use a Go duration such as 90s, 10m or 6h", value)
		}
		return d.String(), nil
	default:
		return value, nil
	}
}
