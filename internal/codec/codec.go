// Package codec is outlookflow's one data-converter constructor, shared by the
// worker, the starter and the codec server: every payload (workflow and
// activity inputs and results, signals, updates, queries, failure messages and
// stack traces) is encrypted with AES-256-GCM before it leaves the process.
//
// An encrypted payload carries metadata encoding "binary/encrypted" and
// "encryption-key-id" naming the key that sealed it; its data is a 12-byte
// nonce followed by the GCM ciphertext of the original payload's protobuf
// encoding (the layout of temporalio/samples-go's encryption sample). The
// active key encrypts; every key in the keyring decrypts, so keys rotate by
// adding a new key, making it active, and retiring the old one once no
// retained history needs it. Payloads that are not encrypted decode
// unchanged, so histories written before encryption was turned on still read.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const (
	// MetadataEncodingEncrypted is the payload encoding of encrypted payloads.
	MetadataEncodingEncrypted = "binary/encrypted"
	// MetadataEncryptionKeyID is the metadata key naming the encrypting key.
	MetadataEncryptionKeyID = "encryption-key-id"
	// KeySize is the size of every key: AES-256.
	KeySize = 32
)

// Keyring holds the encryption keys by id; ActiveID names the key that
// encrypts. Keys are 32 bytes (AES-256).
type Keyring struct {
	ActiveID string
	Keys     map[string][]byte
}

// aesCodec is a converter.PayloadCodec encrypting with AES-256-GCM.
type aesCodec struct {
	activeID string
	aeads    map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*aesCodec)(nil)

// NewCodec returns the encrypting payload codec for k. It fails when k has no
// keys, a key is not 32 bytes, or ActiveID names no key.
func NewCodec(k Keyring) (converter.PayloadCodec, error) {
	if len(k.Keys) == 0 {
		return nil, errors.New("codec: the keyring has no keys; configure encryption.keys")
	}
	c := &aesCodec{activeID: k.ActiveID, aeads: make(map[string]cipher.AEAD, len(k.Keys))}
	for id, key := range k.Keys {
		if id == "" {
			return nil, errors.New("codec: a key has an empty id; give every key an id")
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("codec: key %q is %d bytes, AES-256 needs %d", id, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", id, err)
		}
		c.aeads[id] = aead
	}
	if _, ok := c.aeads[k.ActiveID]; !ok {
		return nil, fmt.Errorf("codec: active key %q is not in the keyring (known: %s)", k.ActiveID, c.knownIDs())
	}
	return c, nil
}

// NewDataConverter returns the default data converter with every payload
// passed through the encrypting codec.
func NewDataConverter(k Keyring) (converter.DataConverter, error) {
	c, err := NewCodec(k)
	if err != nil {
		return nil, err
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c), nil
}

// NewFailureConverter returns a failure converter that moves failure messages
// and stack traces into an encrypted payload (EncodeCommonAttributes), so
// errors that quote mail content or secrets stay unreadable in history; the
// server sees "Encoded failure". Failure details go through the same
// encrypting data converter.
func NewFailureConverter(k Keyring) (converter.FailureConverter, error) {
	dc, err := NewDataConverter(k)
	if err != nil {
		return nil, err
	}
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	}), nil
}

// Encode encrypts every payload with the active key.
func (c *aesCodec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.activeID]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("codec: read nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(MetadataEncodingEncrypted),
				MetadataEncryptionKeyID:    []byte(c.activeID),
			},
			Data: aead.Seal(nonce, nonce, plain, nil),
		}
	}
	return out, nil
}

// Decode decrypts encrypted payloads with the key their metadata names and
// passes any other payload through unchanged.
func (c *aesCodec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != MetadataEncodingEncrypted {
			out[i] = p
			continue
		}
		idBytes, ok := p.GetMetadata()[MetadataEncryptionKeyID]
		if !ok {
			return nil, fmt.Errorf("codec: encrypted payload has no %s metadata", MetadataEncryptionKeyID)
		}
		id := string(idBytes)
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("codec: payload was encrypted with key %q, which is not in the keyring (known: %s); add that key to encryption.keys to read it", id, c.knownIDs())
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return nil, fmt.Errorf("codec: encrypted payload (key %q) is %d bytes, too short to be valid", id, len(data))
		}
		nonce, sealed := data[:aead.NonceSize()], data[aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, sealed, nil)
		if err != nil {
			return nil, fmt.Errorf("codec: decrypt payload with key %q: authentication failed (payload altered, or a different key with the same id)", id)
		}
		var decoded commonpb.Payload
		if err := proto.Unmarshal(plain, &decoded); err != nil {
			return nil, fmt.Errorf("codec: decrypted payload (key %q) is not a payload: %w", id, err)
		}
		out[i] = &decoded
	}
	return out, nil
}

func (c *aesCodec) knownIDs() string {
	ids := make([]string, 0, len(c.aeads))
	for id := range c.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}
