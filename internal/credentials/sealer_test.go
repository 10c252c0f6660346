package credentials

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/outlookflow/outlookflow/internal/codec"
)

func sealer(t *testing.T, active string, keys map[string][]byte) *Sealer {
	t.Helper()
	s, err := NewSealer(codec.Keyring{ActiveID: active, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealerRoundTripsUnderTheActiveKeyAndHidesThePlaintext(t *testing.T) {
	s := sealer(t, "k2", map[string][]byte{"k1": key(t), "k2": key(t)})
	plain := []byte("refresh-token-0123456789")
	aad := boundTo("test", "msal-cache", "contoso", "user-1")
	sealed, err := s.Seal(plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if sealed.KeyID != "k2" {
		t.Errorf("sealed with %q, want the active key k2", sealed.KeyID)
	}
	b, err := sealed.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, plain) {
		t.Fatal("the sealed form holds the plaintext")
	}
	parsed, err := ParseSealed(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Open(parsed, aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v; want the plaintext", got, err)
	}
	again, _ := s.Seal(plain, aad)
	if bytes.Equal(again.Nonce, sealed.Nonce) || bytes.Equal(again.Ciphertext, sealed.Ciphertext) {
		t.Error("sealing twice gave the same nonce or ciphertext; nonces must be fresh")
	}
}

func TestSealerRefusesOtherAdditionalData(t *testing.T) {
	s := sealer(t, "k1", map[string][]byte{"k1": key(t)})
	sealed, err := s.Seal([]byte("secret"), boundTo("test", "msal-cache", "contoso", "user-1"))
	if err != nil {
		t.Fatal(err)
	}
	for name, aad := range map[string][]byte{
		"other subject": boundTo("test", "msal-cache", "contoso", "user-2"),
		"other tenant":  boundTo("test", "msal-cache", "fabrikam", "user-1"),
		"other kind":    boundTo("test", "pkce", "contoso", "user-1"),
		"fields joined": boundTo("test", "msal-cache", "contosouser-1", ""),
		"none":          nil,
	} {
		if got, err := s.Open(sealed, aad); err == nil {
			t.Errorf("%s: opened to %q; the row's key must be bound into the seal", name, got)
		}
	}
}

func TestSealerNamesAnUnknownKey(t *testing.T) {
	a, b := key(t), key(t)
	sealed, err := sealer(t, "old-key", map[string][]byte{"old-key": a}).Seal([]byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sealer(t, "new-key", map[string][]byte{"new-key": b}).Open(sealed, nil)
	var unknown *UnknownKeyError
	if !errors.As(err, &unknown) || unknown.KeyID != "old-key" {
		t.Fatalf("err %v, want an *UnknownKeyError for old-key", err)
	}
	for _, want := range []string{`"old-key"`, "encryption.keys", "new-key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestSealerRefusesTamperedCiphertextNonceOrKeyID(t *testing.T) {
	s := sealer(t, "k1", map[string][]byte{"k1": key(t), "k2": key(t)})
	sealed, err := s.Seal([]byte("secret value"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed.Ciphertext {
		bad := sealed
		bad.Ciphertext = bytes.Clone(sealed.Ciphertext)
		bad.Ciphertext[i] ^= 0x01
		if _, err := s.Open(bad, []byte("aad")); err == nil {
			t.Fatalf("ciphertext with byte %d flipped opened", i)
		}
	}
	bad := sealed
	bad.Nonce = bytes.Clone(sealed.Nonce)
	bad.Nonce[0] ^= 0x01
	if _, err := s.Open(bad, []byte("aad")); err == nil {
		t.Error("a changed nonce opened")
	}
	bad = sealed
	bad.KeyID = "k2"
	if _, err := s.Open(bad, []byte("aad")); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
		t.Errorf("relabelled to another configured key: err %v, want an authentication failure", err)
	}
	if _, err := s.Open(sealed, []byte("aad")); err != nil {
		t.Fatalf("the untouched secret no longer opens: %v", err)
	}
}

func TestSealedBinaryFormRoundTripsAndRefusesGarbage(t *testing.T) {
	in := Sealed{KeyID: "2026-06", Nonce: bytes.Repeat([]byte{7}, 12), Ciphertext: []byte{0, 1, 2, 0xff}}
	b, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseSealed(b)
	if err != nil || out.KeyID != in.KeyID || !bytes.Equal(out.Nonce, in.Nonce) || !bytes.Equal(out.Ciphertext, in.Ciphertext) {
		t.Fatalf("ParseSealed(MarshalBinary(%+v)) = %+v, %v", in, out, err)
	}
	for i := range 1 + len(in.KeyID) + 1 + len(in.Nonce) {
		if _, err := ParseSealed(b[:i]); err == nil {
			t.Errorf("a sealed form cut to %d bytes parsed", i)
		}
	}
	if _, err := ParseSealed(append([]byte{9}, b[1:]...)); err == nil {
		t.Error("an unknown format byte parsed")
	}
}

func TestNewSealerRefusesBadKeyrings(t *testing.T) {
	for name, ring := range map[string]codec.Keyring{
		"no keys":        {ActiveID: "k"},
		"short key":      {ActiveID: "k", Keys: map[string][]byte{"k": make([]byte, 16)}},
		"missing active": {ActiveID: "x", Keys: map[string][]byte{"k": make([]byte, 32)}},
	} {
		if _, err := NewSealer(ring); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
