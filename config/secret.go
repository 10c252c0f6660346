package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// LookupEnv looks up an environment variable, like os.LookupEnv.
type LookupEnv func(name string) (string, bool)

// EnvLookup returns a LookupEnv over environ ("NAME=value" entries, as from
// os.Environ). Later entries win.
func EnvLookup(environ []string) LookupEnv {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// maxSecretFileSize bounds a secret file; secrets are short.
const maxSecretFileSize = 64 << 10

// ResolveSecret reads the secret ref points at: the environment variable
// ref.Env (looked up with lookupEnv; nil means os.LookupEnv) or the file
// ref.File, with trailing newlines trimmed. Errors name the variable or file
// and how to fix it, never the secret.
func ResolveSecret(ref SecretRef, lookupEnv LookupEnv) (string, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	switch {
	case ref.Env != "" && ref.File != "":
		return "", errors.New("secret sets both env and file; keep exactly one")
	case ref.Env != "":
		v, ok := lookupEnv(ref.Env)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set; export it with the secret, or point secret.file at a file holding it", ref.Env)
		}
		v = strings.TrimRight(v, "\r\n")
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty; export it with the secret", ref.Env)
		}
		return v, nil
	case ref.File != "":
		b, err := readBounded(ref.File, maxSecretFileSize)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is named below; don't repeat it
			}
			return "", fmt.Errorf("secret file %s cannot be read (%v); create it with the secret, readable by this process", ref.File, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty; write the secret into it", ref.File)
		}
		return v, nil
	default:
		return "", errors.New("secret is not configured; set secret.env to the name of an environment variable, or secret.file to a file path")
	}
}

// AESKeySize is the size of an AES-256 key, the only size encryption keys may have.
const AESKeySize = 32

// ResolveKeys reads and decodes every encryption key, by id. Each secret holds a
// base64-encoded (standard or URL alphabet, padding optional) 32-byte key.
// lookupEnv nil means os.LookupEnv. Errors name the key and never the secret.
func (e Encryption) ResolveKeys(lookupEnv LookupEnv) (map[string][]byte, error) {
	out := make(map[string][]byte, len(e.Keys))
	var errs []error
	for i, k := range e.Keys {
		name := fmt.Sprintf("encryption.keys[%d] (id %q)", i, k.ID)
		s, err := ResolveSecret(k.Secret, lookupEnv)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		key, err := decodeBase64(strings.TrimSpace(s))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: the secret is not base64; generate a key with: openssl rand -base64 32", name))
			continue
		}
		if len(key) != AESKeySize {
			errs = append(errs, fmt.Errorf("%s: the key decodes to %d bytes, AES-256 needs %d; generate one with: openssl rand -base64 32", name, len(key), AESKeySize))
			continue
		}
		if _, dup := out[k.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: duplicate key id; key ids must be unique", name))
			continue
		}
		out[k.ID] = key
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if _, ok := out[e.ActiveKeyID]; !ok {
		return nil, fmt.Errorf("encryption.activeKeyID %q names no key in encryption.keys; set it to one of the key ids", e.ActiveKeyID)
	}
	return out, nil
}

func decodeBase64(s string) ([]byte, error) {
	var firstErr error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}
