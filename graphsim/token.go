package graphsim

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
)

// Access tokens are JWTs signed with ES256 by a key generated per Server, so
// the simulator can validate its own tokens (Graph side) while clients, which
// never validate Graph tokens, just see a well-formed JWT.

// tokenClaims are the claims the Graph side reads back from a token.
type tokenClaims struct {
	Aud     string   `json:"aud"`
	Iss     string   `json:"iss"`
	Iat     int64    `json:"iat"`
	Nbf     int64    `json:"nbf"`
	Exp     int64    `json:"exp"`
	AppID   string   `json:"appid"`
	Azp     string   `json:"azp"`
	IDTyp   string   `json:"idtyp"`
	Oid     string   `json:"oid"`
	Tid     string   `json:"tid"`
	Roles   []string `json:"roles"`
	Scp     string   `json:"scp"`
	Uti     string   `json:"uti"`
	XmsCC   []string `json:"xms_cc"`
	Version string   `json:"ver"`
}

var b64 = base64.RawURLEncoding

// signJWT serialises claims (an ordered object, so the payload reads like a
// real Entra token) and signs header.payload with ES256.
func (s *Server) signJWT(claims object) (string, error) {
	header := object{{"typ", "JWT"}, {"alg", "ES256"}, {"kid", s.keyID}}
	hb, err := marshalNoEscape(header)
	if err != nil {
		return "", err
	}
	pb, err := marshalNoEscape(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	digest := sha256.Sum256([]byte(input))
	r, sg, err := ecdsa.Sign(rand.Reader, s.signKey, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sg.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig), nil
}

var (
	errTokenMalformed = errors.New("malformed")
	errTokenSignature = errors.New("signature")
)

// parseJWT verifies a token signed by this server and returns its claims.
func (s *Server) parseJWT(tok string) (*tokenClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errTokenMalformed
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, errTokenMalformed
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(hb, &hdr) != nil {
		return nil, errTokenMalformed
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errTokenMalformed
	}
	var c tokenClaims
	if json.Unmarshal(pb, &c) != nil {
		return nil, errTokenMalformed
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || hdr.Alg != "ES256" || hdr.Kid != s.keyID || len(sig) != 64 {
		return nil, errTokenSignature
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r := new(big.Int).SetBytes(sig[:32])
	sg := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&s.signKey.PublicKey, digest[:], r, sg) {
		return nil, errTokenSignature
	}
	return &c, nil
}

// jwks publishes the signing key the way Entra's discovery/keys does.
func (s *Server) jwks() object {
	// Uncompressed SEC 1 point: 0x04 || X || Y, 32 bytes each for P-256.
	pt, err := s.signKey.PublicKey.Bytes()
	if err != nil || len(pt) != 65 {
		return object{{"keys", []object{}}}
	}
	x, y := pt[1:33], pt[33:]
	return object{{"keys", []object{{
		{"kty", "EC"}, {"use", "sig"}, {"kid", s.keyID}, {"crv", "P-256"},
		{"x", b64.EncodeToString(x)}, {"y", b64.EncodeToString(y)},
		{"issuer", "https://login.microsoftonline.com/{tenantid}/v2.0"},
	}}}}
}
