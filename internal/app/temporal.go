// Package app is process wiring shared by the worker and the starter:
// configuration → logger → Temporal client with the encrypting data converter
// → registrations. It holds no business logic.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/codec"
	"github.com/outlookflow/outlookflow/internal/logging"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// Keyring resolves the configured encryption keys.
func Keyring(cfg *config.Config) (codec.Keyring, error) {
	keys, err := cfg.Encryption.ResolveKeys(os.LookupEnv)
	if err != nil {
		return codec.Keyring{}, err
	}
	return codec.Keyring{ActiveID: cfg.Encryption.ActiveKeyID, Keys: keys}, nil
}

// DialTemporal connects to Temporal with payload and failure encryption, the
// zap logger bridge and, when configured, (m)TLS. Worker and starter both use
// it, so they always agree on the data converter.
func DialTemporal(ctx context.Context, cfg *config.Config, log *zap.Logger) (client.Client, error) {
	ring, err := Keyring(cfg)
	if err != nil {
		return nil, err
	}
	return DialWithKeyring(ctx, cfg, ring, log)
}

// DialWithKeyring is DialTemporal for callers that already resolved the keys
// (the worker also serves the codec endpoint with them). adjust, if given,
// edits the client options last (the benchmark adds a counting interceptor).
func DialWithKeyring(ctx context.Context, cfg *config.Config, ring codec.Keyring, log *zap.Logger, adjust ...func(*client.Options)) (client.Client, error) {
	dc, err := codec.NewDataConverter(ring)
	if err != nil {
		return nil, err
	}
	fc, err := codec.NewFailureConverter(ring)
	if err != nil {
		return nil, err
	}
	opts := client.Options{
		HostPort:         cfg.Temporal.Address,
		Namespace:        cfg.Temporal.Namespace,
		DataConverter:    dc,
		FailureConverter: fc,
		Logger:           logging.NewTemporalLogger(log),
	}
	if cfg.Temporal.TLS.IsEnabled() {
		tlsCfg, err := temporalTLS(cfg.Temporal.TLS)
		if err != nil {
			return nil, err
		}
		opts.ConnectionOptions.TLS = tlsCfg
	}
	for _, f := range adjust {
		f(&opts)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, &TemporalUnreachableError{Address: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, Err: err}
	}
	return c, nil
}

// TemporalUnreachableError is a failed dial: the server is down, elsewhere,
// or refuses us. Callers tell it apart from configuration errors.
type TemporalUnreachableError struct {
	Address, Namespace string
	Err                error
}

func (e *TemporalUnreachableError) Error() string {
	return fmt.Sprintf("connecting to Temporal at %s (namespace %s): %v; is the server running? `make temporal` starts a dev server",
		e.Address, e.Namespace, e.Err)
}

func (e *TemporalUnreachableError) Unwrap() error { return e.Err }

func temporalTLS(t config.TemporalTLS) (*tls.Config, error) {
	out := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal.tls.caFile %s holds no PEM certificate", t.CAFile)
		}
		out.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.certFile/keyFile: %w", err)
		}
		out.Certificates = []tls.Certificate{cert}
	}
	return out, nil
}

// SearchAttributes are the custom attributes outlookflow's workflows use.
func SearchAttributes() map[string]enums.IndexedValueType {
	out := map[string]enums.IndexedValueType{}
	for _, name := range slices.Concat(tenant.SearchAttributeNames(), mailsync.SearchAttributeNames(), reciperun.SearchAttributeNames()) {
		out[name] = enums.INDEXED_VALUE_TYPE_KEYWORD
	}
	return out
}

// EnsureSearchAttributes registers any missing custom search attribute on the
// namespace, so a fresh server (or a production cluster) needs no manual step.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	svc := c.OperatorService()
	existing, err := svc.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("listing search attributes: %w", err)
	}
	missing := map[string]enums.IndexedValueType{}
	for name, typ := range SearchAttributes() {
		have, ok := existing.GetCustomAttributes()[name]
		if !ok {
			missing[name] = typ
			continue
		}
		if have != typ {
			return fmt.Errorf("search attribute %s exists with type %s, outlookflow needs %s; remove it or use another namespace", name, have, typ)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = svc.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing})
	if err != nil {
		return fmt.Errorf("registering search attributes %v: %w", keys(missing), err)
	}
	return nil
}

func keys(m map[string]enums.IndexedValueType) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
