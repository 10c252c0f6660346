package graphclient

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/outlookflow/outlookflow/activities"
)

func identityFailure(status int, body string) error {
	return &azidentity.AuthenticationFailedError{RawResponse: &http.Response{
		StatusCode: status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
	}}
}

func graphFailure(status int, code string, retryAfter string) error {
	e := odataerrors.NewODataError()
	main := odataerrors.NewMainError()
	main.SetCode(&code)
	msg := "message from Graph"
	main.SetMessage(&msg)
	e.SetErrorEscaped(main)
	e.ResponseStatusCode = status
	h := abstractions.NewResponseHeaders()
	if retryAfter != "" {
		h.Add("Retry-After", retryAfter)
	}
	e.ResponseHeaders = h
	return e
}

func mustGraphError(t *testing.T, err error) *activities.GraphError {
	t.Helper()
	var ge *activities.GraphError
	if !errors.As(Classify(err), &ge) {
		t.Fatalf("Classify(%v) is not a GraphError", err)
	}
	return ge
}

func TestClassifyIdentityErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		kind   activities.GraphErrorKind
		code   string
	}{
		{"wrong secret", 401, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x","error_codes":[7000215]}`, activities.KindInvalidCredentials, "AADSTS7000215"},
		{"expired secret", 401, `{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys are expired.","error_codes":[7000222]}`, activities.KindInvalidCredentials, "AADSTS7000222"},
		{"unknown tenant", 400, `{"error":"invalid_request","error_description":"AADSTS90002: Tenant not found.","error_codes":[90002]}`, activities.KindInvalidCredentials, "AADSTS90002"},
		{"consent missing", 400, `{"error":"invalid_grant","error_description":"AADSTS65001: The user or administrator has not consented.","error_codes":[65001],"suberror":"consent_required"}`, activities.KindConsentRevoked, "AADSTS65001"},
		{"throttled", 429, `{}`, activities.KindThrottled, ""},
		{"outage", 503, ``, activities.KindUnavailable, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ge := mustGraphError(t, identityFailure(c.status, c.body))
			if ge.Kind != c.kind || ge.Code != c.code || ge.Status != c.status {
				t.Fatalf("got kind=%s code=%q status=%d, want kind=%s code=%q status=%d", ge.Kind, ge.Code, ge.Status, c.kind, c.code, c.status)
			}
			if strings.Contains(ge.Message, "Trace ID") {
				t.Fatalf("message %q keeps more than the first line", ge.Message)
			}
		})
	}
}

func TestClassifyGraphErrors(t *testing.T) {
	cases := []struct {
		status     int
		code       string
		retryAfter string
		kind       activities.GraphErrorKind
		delay      time.Duration
	}{
		{429, "TooManyRequests", "3", activities.KindThrottled, 3 * time.Second},
		{503, "serviceNotAvailable", "2", activities.KindUnavailable, 2 * time.Second},
		{504, "", "", activities.KindUnavailable, 0},
		{401, "InvalidAuthenticationToken", "", activities.KindUnauthenticated, 0},
		{403, "ErrorAccessDenied", "", activities.KindForbidden, 0},
		{403, "Authorization_RequestDenied", "", activities.KindForbidden, 0},
		{404, "ErrorItemNotFound", "", activities.KindNotFound, 0},
		{410, "SyncStateNotFound", "", activities.KindSyncStateLost, 0},
		{400, "SyncStateNotFound", "", activities.KindSyncStateLost, 0},
		{400, "InefficientFilter", "", activities.KindBadRequest, 0},
	}
	for _, c := range cases {
		ge := mustGraphError(t, graphFailure(c.status, c.code, c.retryAfter))
		if ge.Kind != c.kind || ge.RetryAfter != c.delay || ge.Code != c.code {
			t.Errorf("%d %s: got kind=%s delay=%v code=%q, want kind=%s delay=%v", c.status, c.code, ge.Kind, ge.RetryAfter, ge.Code, c.kind, c.delay)
		}
	}
}

func TestRetryAfterParsesSecondsFractionsAndDates(t *testing.T) {
	if d := retryAfter("2.5"); d != 2500*time.Millisecond {
		t.Errorf("2.5 → %v", d)
	}
	if d := retryAfter(time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)); d < 8*time.Second || d > 11*time.Second {
		t.Errorf("HTTP date 10s ahead → %v", d)
	}
	if d := retryAfter("soon"); d != 0 {
		t.Errorf("garbage → %v, want 0", d)
	}
}

func TestGrantedPermissionsReadsRolesAndScp(t *testing.T) {
	// header.{"roles":["User.Read.All","Mail.Send"],"scp":"Mail.Read"}.sig
	tok := "eyJhbGciOiJub25lIn0.eyJyb2xlcyI6WyJVc2VyLlJlYWQuQWxsIiwiTWFpbC5TZW5kIl0sInNjcCI6Ik1haWwuUmVhZCJ9.c2ln"
	got, err := grantedPermissions(tok)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "Mail.Read,Mail.Send,User.Read.All" {
		t.Fatalf("granted = %v", got)
	}
	if _, err := grantedPermissions("not-a-jwt"); err == nil {
		t.Fatal("a non-JWT token must be an error")
	}
}
