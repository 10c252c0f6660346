package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func keyring(active string, ids ...string) Keyring {
	k := Keyring{ActiveID: active, Keys: map[string][]byte{}}
	for i, id := range ids {
		k.Keys[id] = key(byte(i + 1))
	}
	return k
}

type mailRef struct {
	Subject string
	Count   int
}

const plaintext = "Quarterly results: CONFIDENTIAL hunter2"

func mustDataConverter(t *testing.T, k Keyring) converter.DataConverter {
	t.Helper()
	dc, err := NewDataConverter(k)
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

func TestDataConverterRoundTrips(t *testing.T) {
	dc := mustDataConverter(t, keyring("k1", "k1"))
	in := mailRef{Subject: plaintext, Count: 3}
	ps, err := dc.ToPayloads(in, "second", 42)
	if err != nil {
		t.Fatal(err)
	}
	var out mailRef
	var s string
	var n int
	if err := dc.FromPayloads(ps, &out, &s, &n); err != nil {
		t.Fatal(err)
	}
	if out != in || s != "second" || n != 42 {
		t.Errorf("round trip gave %+v, %q, %d; want %+v, second, 42", out, s, n, in)
	}
}

func TestEncryptedPayloadHidesThePlaintextAndNamesTheKey(t *testing.T) {
	dc := mustDataConverter(t, keyring("2025-01", "2025-01"))
	p, err := dc.ToPayload(mailRef{Subject: plaintext})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.Metadata[converter.MetadataEncoding]); got != MetadataEncodingEncrypted {
		t.Errorf("encoding = %q, want %q", got, MetadataEncodingEncrypted)
	}
	if got := string(p.Metadata[MetadataEncryptionKeyID]); got != "2025-01" {
		t.Errorf("key id = %q, want 2025-01", got)
	}
	wire, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{plaintext, "hunter2", "CONFIDENTIAL", "json/plain", "Subject"} {
		if bytes.Contains(wire, []byte(leak)) {
			t.Errorf("encrypted payload contains %q in clear", leak)
		}
	}
}

func TestEncodingTheSameValueTwiceGivesDifferentCiphertexts(t *testing.T) {
	dc := mustDataConverter(t, keyring("k1", "k1"))
	a, _ := dc.ToPayload(plaintext)
	b, _ := dc.ToPayload(plaintext)
	if bytes.Equal(a.Data, b.Data) {
		t.Error("two encryptions of one value are identical; nonces must be random")
	}
}

func TestRotationDecodesPayloadsSealedWithTheOldKey(t *testing.T) {
	old := Keyring{ActiveID: "old", Keys: map[string][]byte{"old": key(1)}}
	rotated := Keyring{ActiveID: "new", Keys: map[string][]byte{"old": key(1), "new": key(2)}}

	p, err := mustDataConverter(t, old).ToPayload(plaintext)
	if err != nil {
		t.Fatal(err)
	}
	dc := mustDataConverter(t, rotated)
	var s string
	if err := dc.FromPayload(p, &s); err != nil || s != plaintext {
		t.Fatalf("after rotation, old payload decodes to %q, %v; want the plaintext", s, err)
	}
	p2, err := dc.ToPayload(plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p2.Metadata[MetadataEncryptionKeyID]); got != "new" {
		t.Errorf("after rotation new payloads use key %q, want new", got)
	}
}

func TestDecodeWithUnknownKeyIDNamesTheKey(t *testing.T) {
	p, err := mustDataConverter(t, keyring("retired-2019", "retired-2019")).ToPayload(plaintext)
	if err != nil {
		t.Fatal(err)
	}
	var s string
	err = mustDataConverter(t, keyring("k2", "k2")).FromPayload(p, &s)
	if err == nil || !strings.Contains(err.Error(), `"retired-2019"`) || !strings.Contains(err.Error(), "known: k2") {
		t.Fatalf("FromPayload error = %v; want it to name key retired-2019 and the known keys", err)
	}
}

func TestDecodeRejectsTamperedPayloads(t *testing.T) {
	c, err := NewCodec(keyring("k1", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := converter.GetDefaultDataConverter().ToPayload(plaintext)
	enc, err := c.Encode([]*commonpb.Payload{orig})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]func(p *commonpb.Payload){
		"flipped ciphertext byte": func(p *commonpb.Payload) { p.Data[len(p.Data)-20] ^= 0x01 },
		"flipped nonce byte":      func(p *commonpb.Payload) { p.Data[0] ^= 0x80 },
		"truncated":               func(p *commonpb.Payload) { p.Data = p.Data[:10] },
		"key id removed":          func(p *commonpb.Payload) { delete(p.Metadata, MetadataEncryptionKeyID) },
	}
	for name, tamper := range tests {
		t.Run(name, func(t *testing.T) {
			p := proto.Clone(enc[0]).(*commonpb.Payload)
			tamper(p)
			if _, err := c.Decode([]*commonpb.Payload{p}); err == nil {
				t.Fatal("Decode accepted a tampered payload")
			}
		})
	}
	t.Run("same id, different key", func(t *testing.T) {
		other, _ := NewCodec(Keyring{ActiveID: "k1", Keys: map[string][]byte{"k1": key(9)}})
		if _, err := other.Decode(enc); err == nil || !strings.Contains(err.Error(), "authentication failed") {
			t.Fatalf("Decode with the wrong key = %v, want an authentication error", err)
		}
	})
}

func TestDecodePassesUnencryptedPayloadsThrough(t *testing.T) {
	plain, err := converter.GetDefaultDataConverter().ToPayload(mailRef{Subject: "from before encryption", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewCodec(keyring("k1", "k1"))
	out, err := c.Decode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(out[0], plain) {
		t.Errorf("Decode changed an unencrypted payload: %v", out[0])
	}
	var got mailRef
	if err := mustDataConverter(t, keyring("k1", "k1")).FromPayload(plain, &got); err != nil || got.Subject != "from before encryption" {
		t.Errorf("FromPayload of an unencrypted payload = %+v, %v", got, err)
	}
}

func TestEncodeDoesNotMutateItsInput(t *testing.T) {
	orig, _ := converter.GetDefaultDataConverter().ToPayload(plaintext)
	snapshot := proto.Clone(orig)
	c, _ := NewCodec(keyring("k1", "k1"))
	if _, err := c.Encode([]*commonpb.Payload{orig}); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(orig, snapshot) {
		t.Error("Encode mutated its input payload")
	}
}

func TestNewCodecRejectsBadKeyrings(t *testing.T) {
	tests := []struct {
		name string
		k    Keyring
		want string
	}{
		{"no keys", Keyring{ActiveID: "k1"}, "no keys"},
		{"short key", Keyring{ActiveID: "k1", Keys: map[string][]byte{"k1": make([]byte, 16)}}, `key "k1" is 16 bytes`},
		{"active key missing", Keyring{ActiveID: "k9", Keys: map[string][]byte{"k1": key(1)}}, `active key "k9" is not in the keyring (known: k1)`},
		{"empty id", Keyring{ActiveID: "", Keys: map[string][]byte{"": key(1)}}, "empty id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCodec(tt.k)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewCodec error = %v, want it to contain %q", err, tt.want)
			}
			if _, err := NewDataConverter(tt.k); err == nil {
				t.Error("NewDataConverter accepted the bad keyring")
			}
			if _, err := NewFailureConverter(tt.k); err == nil {
				t.Error("NewFailureConverter accepted the bad keyring")
			}
		})
	}
}

func TestFailureConverterEncryptsMessagesStackTracesAndDetails(t *testing.T) {
	k := keyring("k1", "k1")
	fc, err := NewFailureConverter(k)
	if err != nil {
		t.Fatal(err)
	}
	const secretMsg = "token=eyJhbGciOiJSUzI1NiJ9.secret-looking for jane.doe@contoso.com"
	const secretDetail = "Body: the merger is off"
	appErr := temporal.NewApplicationError(secretMsg, "GraphForbidden", secretDetail)
	wrapped := temporal.NewApplicationErrorWithCause("outer "+secretMsg, "Wrapper", appErr)

	f := fc.ErrorToFailure(wrapped)
	wire, err := proto.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"eyJhbGciOiJSUzI1NiJ9", "jane.doe", "merger", secretMsg} {
		if bytes.Contains(wire, []byte(leak)) {
			t.Errorf("failure proto contains %q in clear", leak)
		}
	}
	if f.GetMessage() != "Encoded failure" || f.GetEncodedAttributes() == nil {
		t.Errorf("failure message = %q, encoded attributes = %v; want the message moved into an encrypted payload", f.GetMessage(), f.GetEncodedAttributes())
	}
	if got := string(f.GetEncodedAttributes().GetMetadata()[converter.MetadataEncoding]); got != MetadataEncodingEncrypted {
		t.Errorf("encoded attributes encoding = %q, want %q", got, MetadataEncodingEncrypted)
	}
	if f.GetCause().GetMessage() != "Encoded failure" {
		t.Errorf("cause message = %q, want it encoded too", f.GetCause().GetMessage())
	}
	if got := f.GetCause().GetApplicationFailureInfo().GetType(); got != "GraphForbidden" {
		t.Errorf("cause type = %q, want the stable error type kept readable", got)
	}

	back := fc.FailureToError(f)
	var ae *temporal.ApplicationError
	if !errors.As(back, &ae) || !strings.Contains(back.Error(), secretMsg) {
		t.Fatalf("FailureToError = %v, want the original message back", back)
	}
	var cause *temporal.ApplicationError
	if !errors.As(ae.Unwrap(), &cause) {
		t.Fatalf("cause = %v, want an ApplicationError", ae.Unwrap())
	}
	var detail string
	if err := cause.Details(&detail); err != nil || detail != secretDetail {
		t.Errorf("cause details = %q, %v; want %q", detail, err, secretDetail)
	}
}
