package graphclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"

	abstractions "github.com/microsoft/kiota-abstractions-go"

	"github.com/outlookflow/outlookflow/activities"
)

// Call sends one request for a recipe action through the same pipeline as
// the sync — the tenant's token, kiota's middleware (429/5xx with
// Retry-After), the allowed-hosts check, the mailbox's request limits — and
// decodes the JSON answer into out. A write is sent once here: whether a
// repeat is safe is the action's business (its idempotency key), so a
// dropped connection comes back as Unavailable for the activity to retry
// with its key.
func (c *Client) Call(ctx context.Context, creds activities.Credentials, mailbox, method, path string, body, out any) error {
	return c.call(ctx, c.cloud.GraphBaseURL, creds, mailbox, method, path, body, out)
}

// CallBeta is Call against Graph's beta endpoint: the configured base URL
// with its version segment (/v1.0) replaced by /beta, on the same host, so
// the request goes through the same session, middleware and allowed-hosts
// check as every other. Only what Graph documents on beta alone should use
// it (the mention signal of mailMentionsMe).
func (c *Client) CallBeta(ctx context.Context, creds activities.Credentials, mailbox, method, path string, body, out any) error {
	base, err := betaBaseURL(c.cloud.GraphBaseURL)
	if err != nil {
		return err
	}
	return c.call(ctx, base, creds, mailbox, method, path, body, out)
}

// betaBaseURL derives the beta base URL from the configured one, which
// ends in the API version (config validation: /v1.0 or /beta).
func betaBaseURL(v1 string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(v1, "/"))
	if err != nil {
		return "", &activities.GraphError{Kind: activities.KindMisconfigured, Message: fmt.Sprintf("graph base URL %q: %v", v1, err)}
	}
	dir, version := path.Split(u.Path)
	switch version {
	case "v1.0", "beta":
	default:
		return "", &activities.GraphError{Kind: activities.KindMisconfigured,
			Message: fmt.Sprintf("graph base URL %q does not end in the API version (/v1.0), so the beta endpoint cannot be derived from it", v1)}
	}
	u.Path = dir + "beta"
	u.RawPath = ""
	return u.String(), nil
}

func (c *Client) call(ctx context.Context, base string, creds activities.Credentials, mailbox, method, path string, body, out any) error {
	s, err := c.session(creds)
	if err != nil {
		return err
	}
	var payload []byte
	if body != nil {
		if payload, err = json.Marshal(body); err != nil {
			return &activities.GraphError{Kind: activities.KindBadRequest, Message: "encoding the request: " + err.Error()}
		}
	}
	m, ok := httpMethods[strings.ToUpper(method)]
	if !ok {
		return &activities.GraphError{Kind: activities.KindBadRequest, Message: fmt.Sprintf("unsupported method %q", method)}
	}
	u := strings.TrimSuffix(base, "/") + path
	var answer []byte
	if m == abstractions.GET {
		answer, err = s.sendJSON(ctx, mailbox, 1, m, u, nil)
	} else {
		answer, err = s.sendOnce(ctx, mailbox, 1, m, u, payload)
	}
	if err != nil {
		return err
	}
	if out == nil || len(answer) == 0 {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return &activities.GraphError{Kind: activities.KindMalformed, Message: fmt.Sprintf("%s %s: the answer is not the expected JSON: %v", method, routeOf(path), err)}
	}
	return nil
}

var httpMethods = map[string]abstractions.HttpMethod{
	"GET": abstractions.GET, "POST": abstractions.POST, "PATCH": abstractions.PATCH,
	"PUT": abstractions.PUT, "DELETE": abstractions.DELETE,
}

// routeOf strips the query from a path for messages (the query may hold a
// key or an address).
func routeOf(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
}

var (
	_ activities.GraphCaller     = (*Client)(nil)
	_ activities.GraphBetaCaller = (*Client)(nil)
)
