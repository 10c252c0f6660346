package graphclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/outlookflow/outlookflow/activities"
)

// consentCodes are AADSTS codes that mean the tenant has not (or no longer)
// consented to the app: an admin must grant consent again.
var consentCodes = map[int]bool{
	65001:   true, // DelegationDoesNotExist: the user or administrator has not consented
	7000229: true, // the client app has no service principal in the tenant (consent removed)
	500011:  true, // the resource principal was not found in the tenant
}

// Classify maps any error from azidentity, MSAL or msgraph-sdk-go to a
// *activities.GraphError. It is the only place that inspects SDK error types.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var ge *activities.GraphError
	if errors.As(err, &ge) {
		return ge
	}
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		return classifyIdentity(authErr)
	}
	var odataErr *odataerrors.ODataError
	if errors.As(err, &odataErr) {
		code, msg := "", ""
		if main := odataErr.GetErrorEscaped(); main != nil {
			code, msg = deref(main.GetCode()), deref(main.GetMessage())
		}
		return classifyGraph(odataErr.ResponseStatusCode, code, msg, odataErr.ResponseHeaders)
	}
	var apiErr *abstractions.ApiError
	if errors.As(err, &apiErr) {
		return classifyGraph(apiErr.ResponseStatusCode, "", apiErr.Message, apiErr.ResponseHeaders)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) {
		return &activities.GraphError{Kind: activities.KindUnavailable, Message: "network: " + firstLine(err.Error())}
	}
	// Anything else (a malformed answer the SDK could not parse, a TLS
	// failure) is treated as transient; the activity's retry policy bounds it.
	return &activities.GraphError{Kind: activities.KindUnavailable, Message: firstLine(err.Error())}
}

// identityErrorBody is the identity platform's OAuth error response.
type identityErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Suberror         string `json:"suberror"`
}

func classifyIdentity(e *azidentity.AuthenticationFailedError) error {
	resp := e.RawResponse
	if resp == nil {
		// No HTTP answer: discovery or transport failed before a token response.
		return &activities.GraphError{Kind: activities.KindUnavailable, Message: "identity platform: " + firstLine(e.Error())}
	}
	status := resp.StatusCode
	if status == http.StatusTooManyRequests || status >= 500 {
		kind := activities.KindUnavailable
		if status == http.StatusTooManyRequests {
			kind = activities.KindThrottled
		}
		return &activities.GraphError{Kind: kind, Status: status, Message: "identity platform answered " + http.StatusText(status), RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	var body identityErrorBody
	if raw, err := runtime.Payload(resp); err == nil {
		_ = json.Unmarshal(raw, &body)
	}
	code := ""
	if len(body.ErrorCodes) > 0 {
		code = fmt.Sprintf("AADSTS%d", body.ErrorCodes[0])
	}
	msg := firstLine(body.ErrorDescription)
	if msg == "" {
		msg = body.Error
	}
	kind := activities.KindInvalidCredentials
	if len(body.ErrorCodes) > 0 && consentCodes[body.ErrorCodes[0]] || body.Suberror == "consent_required" {
		kind = activities.KindConsentRevoked
	}
	return &activities.GraphError{Kind: kind, Status: status, Code: code, Message: msg}
}

func classifyGraph(status int, code, msg string, headers *abstractions.ResponseHeaders) error {
	ge := &activities.GraphError{Status: status, Code: code, Message: firstLine(msg)}
	switch {
	case status == http.StatusTooManyRequests:
		ge.Kind = activities.KindThrottled
	case status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		ge.Kind = activities.KindUnavailable
	case strings.EqualFold(code, "SyncStateNotFound") || strings.EqualFold(code, "resyncRequired") || status == http.StatusGone:
		ge.Kind = activities.KindSyncStateLost
	case status == http.StatusUnauthorized:
		ge.Kind = activities.KindUnauthenticated
	case status == http.StatusForbidden:
		ge.Kind = activities.KindForbidden
	case status == http.StatusNotFound:
		ge.Kind = activities.KindNotFound
	case status >= 500:
		ge.Kind = activities.KindUnavailable
	default:
		ge.Kind = activities.KindBadRequest
	}
	if headers != nil && ge.Kind.Retryable() {
		if v := headers.Get("Retry-After"); len(v) > 0 {
			ge.RetryAfter = retryAfter(v[0])
		}
	}
	return ge
}

// retryAfter parses Retry-After as seconds (Graph sometimes sends fractions)
// or an HTTP date. Zero means "not given".
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
