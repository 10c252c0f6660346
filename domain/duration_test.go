package domain

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDurationTravelsAsReadableStringAndReadsBothForms(t *testing.T) {
	b, err := json.Marshal(struct{ Every Duration }{Duration(90 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"Every":"1m30s"}` {
		t.Fatalf("encoded as %s, want the readable form", b)
	}
	for in, want := range map[string]time.Duration{
		`"1m30s"`:     90 * time.Second,
		`60000000000`: time.Minute, // histories written before Duration existed
		`"0s"`:        0,
	} {
		var d Duration
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.Std() != want {
			t.Errorf("decoding %s: %v, %v; want %v", in, d, err, want)
		}
	}
	for _, bad := range []string{`"ninety"`, `true`, `"1x"`} {
		var d Duration
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("decoding %s succeeded; want an error", bad)
		}
	}
}
