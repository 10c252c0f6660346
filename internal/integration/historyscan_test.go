package integration

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/outlookflow/outlookflow/internal/app"
)

// historyScan is a workflow's history as an attacker might read it: raw, as
// the server stores it, and with every payload decoded through the codec
// endpoint, as the Web UI shows it.
type historyScan struct {
	raw     []byte
	decoded []byte
}

func (s historyScan) rawContains(v string) bool     { return bytes.Contains(s.raw, []byte(v)) }
func (s historyScan) decodedContains(v string) bool { return bytes.Contains(s.decoded, []byte(v)) }

// scanHistory reads every run of the workflow and decodes every payload in it
// (inputs, results, updates, signals, queries, failure attributes, search
// attributes) through the codec endpoint at codecURL.
func scanHistory(t *testing.T, c client.Client, workflowID, codecURL string) historyScan {
	t.Helper()
	var scan historyScan
	var payloads []*commonpb.Payload
	iter := c.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	events := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		scan.raw = append(scan.raw, b...)
		collectPayloads(ev.ProtoReflect(), &payloads)
		events++
	}
	if events < 10 || len(payloads) < 5 {
		t.Fatalf("history has %d events and %d payloads; the scan would prove nothing", events, len(payloads))
	}
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, codecURL+"/decode", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", temporalServer.Namespace)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("codec endpoint answered %d: %s", resp.StatusCode, out)
	}
	var decoded commonpb.Payloads
	if err := protojson.Unmarshal(out, &decoded); err != nil {
		t.Fatalf("codec endpoint answer: %v", err)
	}
	if len(decoded.Payloads) != len(payloads) {
		t.Fatalf("codec endpoint decoded %d of %d payloads", len(decoded.Payloads), len(payloads))
	}
	for _, p := range decoded.Payloads {
		scan.decoded = append(scan.decoded, p.GetData()...)
		for k, v := range p.GetMetadata() {
			scan.decoded = append(scan.decoded, k...)
			scan.decoded = append(scan.decoded, v...)
		}
	}
	return scan
}

// collectPayloads walks a proto message and gathers every Payload in it.
func collectPayloads(m protoreflect.Message, out *[]*commonpb.Payload) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		*out = append(*out, p)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			if fd.Message() != nil {
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					collectPayloads(l.Get(i).Message(), out)
				}
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					collectPayloads(mv.Message(), out)
					return true
				})
			}
		case fd.Message() != nil:
			collectPayloads(v.Message(), out)
		}
		return true
	})
}

// codecEndpoint serves the worker's HTTP handler (the codec endpoint the Web
// UI calls) for this harness's keys and returns its /codec URL.
func (h *harness) codecEndpoint() string {
	h.t.Helper()
	handler, err := app.NewHTTPHandler(h.ring, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	h.t.Cleanup(srv.Close)
	return srv.URL + "/codec"
}
