package credentials

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/outlookflow/outlookflow/internal/codec"
)

// Sealer seals secrets at rest with the payload keys (encryption.keys):
// AES-256-GCM under the active key, the key's id kept with the ciphertext, so
// any configured key opens what it sealed and rotation knows what to redo.
// The vault's files and the store's sealed secrets both go through it.
//
// The additional data a caller passes binds a ciphertext to where it is
// kept (a tenant and version, a row's kind, tenant and subject): a
// ciphertext copied elsewhere does not open.
type Sealer struct {
	activeID string
	aeads    map[string]cipher.AEAD
}

// Sealed is one sealed secret: the id of the key that sealed it, the GCM
// nonce, and the ciphertext with its tag.
type Sealed struct {
	KeyID      string
	Nonce      []byte
	Ciphertext []byte
}

// sealedFormatV1 is the first byte of a Sealed's binary form.
const sealedFormatV1 = 1

// maxKeyIDLen bounds a key id so its length fits the binary form's one
// byte (config allows 64).
const maxKeyIDLen = 255

// UnknownKeyError is returned for a ciphertext sealed with a key that is not
// (or no longer) configured.
type UnknownKeyError struct {
	KeyID string
	// Known are the configured key ids, sorted.
	Known []string
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("credentials: sealed with key %q, which is not in encryption.keys (configured: %s); add it back (keys decrypt until removed)",
		e.KeyID, strings.Join(e.Known, ", "))
}

// NewSealer returns a Sealer over ring: ActiveID seals, every key opens. It
// fails when the ring has no keys, a key is not 32 bytes, or ActiveID names
// no key.
func NewSealer(ring codec.Keyring) (*Sealer, error) {
	if len(ring.Keys) == 0 {
		return nil, errors.New("credentials: the keyring has no keys; configure encryption.keys")
	}
	s := &Sealer{activeID: ring.ActiveID, aeads: make(map[string]cipher.AEAD, len(ring.Keys))}
	for id, key := range ring.Keys {
		if id == "" || len(id) > maxKeyIDLen {
			return nil, fmt.Errorf("credentials: key id %q must be 1 to %d bytes; fix encryption.keys", id, maxKeyIDLen)
		}
		if len(key) != codec.KeySize {
			return nil, fmt.Errorf("credentials: key %q is %d bytes, AES-256 needs %d; fix encryption.keys", id, len(key), codec.KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("credentials: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("credentials: key %q: %w", id, err)
		}
		s.aeads[id] = aead
	}
	if _, ok := s.aeads[ring.ActiveID]; !ok {
		return nil, fmt.Errorf("credentials: the active key %q is not in the keyring; set encryption.activeKeyID to a configured key", ring.ActiveID)
	}
	return s, nil
}

// ActiveKeyID is the id of the key Seal uses.
func (s *Sealer) ActiveKeyID() string { return s.activeID }

// HasKey reports whether the key id is configured, so Open can use it.
func (s *Sealer) HasKey(id string) bool {
	_, ok := s.aeads[id]
	return ok
}

// Seal encrypts plaintext under the active key with a fresh random nonce,
// binding it to aad.
func (s *Sealer) Seal(plaintext, aad []byte) (Sealed, error) {
	aead := s.aeads[s.activeID]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("credentials: reading a nonce: %w", err)
	}
	return Sealed{KeyID: s.activeID, Nonce: nonce, Ciphertext: aead.Seal(nil, nonce, plaintext, aad)}, nil
}

// Open decrypts sealed with the key it names. A key that is not configured
// is an *UnknownKeyError; a ciphertext that was altered, moved (other aad)
// or sealed by another key of the same id fails authentication.
func (s *Sealer) Open(sealed Sealed, aad []byte) ([]byte, error) {
	aead, ok := s.aeads[sealed.KeyID]
	if !ok {
		return nil, &UnknownKeyError{KeyID: sealed.KeyID, Known: s.knownIDs()}
	}
	if len(sealed.Nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("credentials: sealed secret (key %q) has a %d-byte nonce, want %d", sealed.KeyID, len(sealed.Nonce), aead.NonceSize())
	}
	plain, err := aead.Open(nil, sealed.Nonce, sealed.Ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("credentials: sealed secret does not decrypt with key %q (altered, moved from where it was sealed, or sealed with another key of the same id)", sealed.KeyID)
	}
	return plain, nil
}

// Reseal opens sealed and seals the plaintext again under the active key,
// with the same aad. A secret already under the active key is returned as
// it is, with changed false.
func (s *Sealer) Reseal(sealed Sealed, aad []byte) (out Sealed, changed bool, err error) {
	if sealed.KeyID == s.activeID {
		return sealed, false, nil
	}
	plain, err := s.Open(sealed, aad)
	if err != nil {
		return Sealed{}, false, err
	}
	out, err = s.Seal(plain, aad)
	clear(plain)
	return out, err == nil, err
}

func (s *Sealer) knownIDs() []string {
	ids := make([]string, 0, len(s.aeads))
	for id := range s.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// MarshalBinary encodes s compactly: a format byte (1), the key id's length
// (one byte) and the key id, the nonce's length (one byte) and the nonce,
// then the ciphertext.
func (s Sealed) MarshalBinary() ([]byte, error) {
	if s.KeyID == "" || len(s.KeyID) > maxKeyIDLen || len(s.Nonce) == 0 || len(s.Nonce) > 255 {
		return nil, fmt.Errorf("credentials: cannot encode a sealed secret with key id %q and a %d-byte nonce", s.KeyID, len(s.Nonce))
	}
	b := make([]byte, 0, 3+len(s.KeyID)+len(s.Nonce)+len(s.Ciphertext))
	b = append(b, sealedFormatV1, byte(len(s.KeyID)))
	b = append(b, s.KeyID...)
	b = append(b, byte(len(s.Nonce)))
	b = append(b, s.Nonce...)
	return append(b, s.Ciphertext...), nil
}

// ParseSealed decodes what Sealed.MarshalBinary wrote.
func ParseSealed(b []byte) (Sealed, error) {
	bad := func(why string) (Sealed, error) {
		return Sealed{}, fmt.Errorf("credentials: not a sealed secret: %s", why)
	}
	if len(b) < 1 || b[0] != sealedFormatV1 {
		return bad("unknown format")
	}
	b = b[1:]
	if len(b) < 1 || int(b[0]) == 0 || len(b) < 1+int(b[0]) {
		return bad("truncated key id")
	}
	keyID := string(b[1 : 1+int(b[0])])
	b = b[1+int(b[0]):]
	if len(b) < 1 || int(b[0]) == 0 || len(b) < 1+int(b[0]) {
		return bad("truncated nonce")
	}
	nonce := append([]byte(nil), b[1:1+int(b[0])]...)
	ct := append([]byte(nil), b[1+int(b[0]):]...)
	return Sealed{KeyID: keyID, Nonce: nonce, Ciphertext: ct}, nil
}

// boundTo builds additional data from a label and fields, each
// length-prefixed so no two lists of fields give the same bytes.
func boundTo(label string, fields ...string) []byte {
	b := append([]byte(label), 0)
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}
