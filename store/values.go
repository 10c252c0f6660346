package store

import (
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/outlookflow/outlookflow/domain"
)

// sqliteTimeLayout is how SQLite stores instants: UTC, fixed width, so text
// order is time order; microseconds because that is PostgreSQL's precision,
// and both drivers must return the same value.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// normTime is the instant a store keeps for t: UTC, to the microsecond. Both
// drivers return exactly this, so what sync wrote compares equal to what a
// reader gets back.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// timeScanner reads a nullable instant from either driver: PostgreSQL gives
// time.Time, SQLite the text written with sqliteTimeLayout. NULL is the zero
// time.
type timeScanner struct{ t *time.Time }

func (s timeScanner) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.t = time.Time{}
	case time.Time:
		*s.t = normTime(v)
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("store: cannot read %T as a time", src)
	}
	return nil
}

func (s timeScanner) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("store: stored time %q: %w", v, err)
	}
	*s.t = normTime(t)
	return nil
}

// jsonScanner decodes a JSON column into target.
type jsonScanner struct{ target any }

func (s jsonScanner) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("store: cannot read %T as JSON", src)
	}
	return json.Unmarshal(b, s.target)
}

// jsonText encodes v for a JSON column; nil slices become [] so the column
// never holds null.
func jsonText(v any) (string, error) {
	switch v := v.(type) {
	case []domain.EmailAddress:
		return string(appendAddressesJSON(make([]byte, 0, 64*len(v)+2), v, "[]")), nil
	case []string:
		return string(appendStringsJSON(make([]byte, 0, 16*len(v)+2), v, "[]")), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) == "null" {
		return "[]", nil
	}
	return string(b), nil
}

// fingerprint hashes the stored form of a row. Upserting a row whose
// fingerprint is already stored is skipped and reported as unchanged.
func fingerprint(v any) (string, error) {
	var b []byte
	var err error
	if m, ok := v.(domain.Message); ok {
		b, err = messageJSON(m)
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return "", fmt.Errorf("store: fingerprinting %T: %w", v, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// nullString is a NULL-able text argument: "" and absent are the same to
// the domain, but a body column distinguishes "not stored" (NULL).
func nullString(s string, valid bool) driver.Valuer {
	return nullText{s: s, valid: valid}
}

type nullText struct {
	s     string
	valid bool
}

func (n nullText) Value() (driver.Value, error) {
	if !n.valid {
		return nil, nil
	}
	return n.s, nil
}

// emptyToNil returns nil for an empty slice, so every read returns nil for
// "none" whatever the writer passed.
func emptyToNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
