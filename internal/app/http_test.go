package app

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/outlookflow/outlookflow/internal/codec"
)

func testRing(t *testing.T) codec.Keyring {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return codec.Keyring{ActiveID: "k1", Keys: map[string][]byte{"k1": k}}
}

func TestHealthz(t *testing.T) {
	h, err := NewHTTPHandler(testRing(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Fatalf("healthz = %d %q", rec.Code, rec.Body.String())
	}
}

func TestCodecEndpointDecodesWhatTheWorkerEncrypts(t *testing.T) {
	ring := testRing(t)
	h, err := NewHTTPHandler(ring, []string{"http://localhost:8233"})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := codec.NewDataConverter(ring)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := dc.ToPayload("Contoso Pharmaceuticals")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc.Data, []byte("Contoso")) {
		t.Fatal("payload is not encrypted")
	}
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{enc}})
	req := httptest.NewRequest("POST", "/codec/decode", bytes.NewReader(body))
	req.Header.Set("Origin", "http://localhost:8233")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("decode = %d %s", rec.Code, rec.Body.String())
	}
	if rec.Header().Get("Access-Control-Allow-Origin") != "http://localhost:8233" {
		t.Fatalf("missing CORS header for the Web UI origin")
	}
	var out commonpb.Payloads
	if err := protojson.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(out.Payloads[0], &s); err != nil || s != "Contoso Pharmaceuticals" {
		t.Fatalf("decoded %q (%v)", s, err)
	}
}

func TestCodecEndpointRefusesUnknownOrigins(t *testing.T) {
	h, err := NewHTTPHandler(testRing(t), []string{"http://localhost:8233"})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodOptions, http.MethodPost} {
		req := httptest.NewRequest(method, "/codec/decode", strings.NewReader("{}"))
		req.Header.Set("Origin", "https://evil.example")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("%s from a foreign origin = %d, want 403", method, rec.Code)
		}
	}
}
