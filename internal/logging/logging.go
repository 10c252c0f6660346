// Package logging builds outlookflow's zap loggers and bridges them into the
// Temporal SDK. Secrets never reach the output: values logged under a key that
// looks like a secret (see [IsSecretKey]) are replaced by "[redacted]", both in
// loggers made by [New] and in the Temporal bridge, and [Secret] marks a field
// as secret whatever its key.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"

	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Redacted replaces every secret value in log output.
const Redacted = "[redacted]"

// New returns a zap logger writing to out (os.Stderr when nil) at level
// (debug, info, warn, error) in format (json or console). Fields whose key
// looks like a secret are redacted.
func New(level, format string, out io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil || level == "" {
		return nil, fmt.Errorf("logging: unknown level %q; use debug, info, warn or error", level)
	}
	var enc zapcore.Encoder
	switch format {
	case "json":
		ec := zap.NewProductionEncoderConfig()
		ec.TimeKey = "time"
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("logging: unknown format %q; use json or console", format)
	}
	if out == nil {
		out = os.Stderr
	}
	ws := zapcore.Lock(zapcore.AddSync(out))
	core := RedactingCore(zapcore.NewCore(enc, ws, lvl))
	return zap.New(core, zap.AddCaller(), zap.ErrorOutput(ws)), nil
}

// secretKeyMarkers are the substrings that make a key look like a secret.
var secretKeyMarkers = []string{
	"secret", "password", "passwd", "token", "authorization",
	"apikey", "api_key", "api-key", "cookie", "privatekey", "private_key",
}

// IsSecretKey reports whether a log key looks like it names a secret: it
// contains secret, password, token or authorization (and a few similar
// words), ignoring case.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, m := range secretKeyMarkers {
		if strings.Contains(k, m) {
			return true
		}
	}
	return false
}

// Redact returns the text to log in place of a secret value.
func Redact(string) string { return Redacted }

// Secret returns a field that always logs "[redacted]" under key. The value is
// accepted so that call sites read naturally; it is never logged.
func Secret(key string, value any) zap.Field {
	_ = value
	return zap.String(key, Redacted)
}

// RedactingCore wraps core so that fields whose key looks like a secret are
// logged as "[redacted]". New applies it; use it for loggers built elsewhere.
func RedactingCore(core zapcore.Core) zapcore.Core {
	return &redactingCore{Core: core}
}

type redactingCore struct{ zapcore.Core }

func (c *redactingCore) With(fields []zapcore.Field) zapcore.Core {
	return &redactingCore{Core: c.Core.With(redactFields(fields))}
}

func (c *redactingCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *redactingCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	return c.Core.Write(e, redactFields(fields))
}

func redactFields(fields []zapcore.Field) []zapcore.Field {
	var out []zapcore.Field
	for i, f := range fields {
		if !IsSecretKey(f.Key) || (f.Type == zapcore.StringType && f.String == Redacted) {
			continue
		}
		if out == nil {
			out = append([]zapcore.Field(nil), fields...)
		}
		out[i] = zap.String(f.Key, Redacted)
	}
	if out == nil {
		return fields
	}
	return out
}

// temporalLogger adapts zap to the Temporal SDK's log.Logger.
type temporalLogger struct{ z *zap.Logger }

var (
	_ log.Logger          = (*temporalLogger)(nil)
	_ log.WithLogger      = (*temporalLogger)(nil)
	_ log.WithSkipCallers = (*temporalLogger)(nil)
)

// NewTemporalLogger bridges z into the Temporal SDK's logger (client.Options.Logger).
// Key-value pairs become zap fields; values under secret-looking keys are
// redacted. It implements log.WithLogger, so workflow and activity loggers carry
// their WorkflowID, RunID, ActivityID and so on as fields.
func NewTemporalLogger(z *zap.Logger) log.Logger {
	return &temporalLogger{z: z.WithOptions(zap.AddCallerSkip(1))}
}

func (l *temporalLogger) Debug(msg string, keyvals ...any) { l.z.Debug(msg, fields(keyvals)...) }
func (l *temporalLogger) Info(msg string, keyvals ...any)  { l.z.Info(msg, fields(keyvals)...) }
func (l *temporalLogger) Warn(msg string, keyvals ...any)  { l.z.Warn(msg, fields(keyvals)...) }
func (l *temporalLogger) Error(msg string, keyvals ...any) { l.z.Error(msg, fields(keyvals)...) }

// With returns a logger that adds keyvals to every entry.
func (l *temporalLogger) With(keyvals ...any) log.Logger {
	return &temporalLogger{z: l.z.With(fields(keyvals)...)}
}

// WithCallerSkip returns a logger that skips depth more stack frames when
// reporting the caller.
func (l *temporalLogger) WithCallerSkip(depth int) log.Logger {
	return &temporalLogger{z: l.z.WithOptions(zap.AddCallerSkip(depth))}
}

// badKey names a trailing value that has no key.
const badKey = "!BADKEY"

func fields(keyvals []any) []zap.Field {
	if len(keyvals) == 0 {
		return nil
	}
	out := make([]zap.Field, 0, (len(keyvals)+1)/2)
	for i := 0; i < len(keyvals); i += 2 {
		if i+1 == len(keyvals) {
			out = append(out, zap.Any(badKey, keyvals[i]))
			break
		}
		key, ok := keyvals[i].(string)
		if !ok {
			key = fmt.Sprint(keyvals[i])
		}
		if IsSecretKey(key) {
			out = append(out, zap.String(key, Redacted))
			continue
		}
		out = append(out, zap.Any(key, keyvals[i+1]))
	}
	return out
}
