package graphclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
)

// FoldersDelta reads one page of a mailbox's mail-folder delta: every
// folder, child folders at any depth, in the first round; then folders
// created, changed (renamed, moved, item counts) or deleted (@removed).
// link is the saved next or delta link, "" to start a full round.
func (c *Client) FoldersDelta(ctx context.Context, creds activities.Credentials, mailbox, link string) (activities.FoldersDeltaPage, error) {
	s, err := c.session(creds)
	if err != nil {
		return activities.FoldersDeltaPage{}, err
	}
	if link == "" {
		link = c.graphURL("/users/"+url.PathEscape(mailbox)+"/mailFolders/delta", url.Values{"$select": {folderSelect}})
	}
	what := "mail folder delta of mailbox " + mailbox
	body, err := s.getJSON(ctx, mailbox, link)
	if err != nil {
		return activities.FoldersDeltaPage{}, err
	}
	return decodeDelta(body, what, folderTypes, func(_ int, f *graphFolder) (domain.MailFolder, error) {
		return f.domain(mailbox), nil
	})
}

var folderTypes = []string{"#microsoft.graph.mailFolder", "#microsoft.graph.mailSearchFolder"}

func (f graphFolder) domain(mailbox string) domain.MailFolder {
	return domain.MailFolder{ID: f.ID, Mailbox: mailbox, ParentFolderID: f.ParentFolderID, DisplayName: f.DisplayName,
		TotalItemCount: f.TotalItemCount, UnreadItemCount: f.UnreadItemCount}
}

// wellKnownNames are the folders recipes and readers name; v1.0 has no
// wellKnownName property, but GET mailFolders/{name} answers the folder.
var wellKnownNames = []string{
	domain.FolderInbox, domain.FolderSentItems, domain.FolderDrafts, domain.FolderDeletedItems,
	domain.FolderArchive, domain.FolderJunkEmail, domain.FolderOutbox,
}

type batchResponse struct {
	Responses []struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

// WellKnownFolders resolves a mailbox's well-known folders in one JSON
// $batch of GET mailFolders/{name}: folder ID → well-known name. A name
// the mailbox lacks (404) is left out. Graph throttles a batch's requests
// one by one, so inner 429s and 5xx are asked again (only those, after
// their Retry-After) a few times before the call fails retryably.
func (c *Client) WellKnownFolders(ctx context.Context, creds activities.Credentials, mailbox string) (map[string]string, error) {
	s, err := c.session(creds)
	if err != nil {
		return nil, err
	}
	what := "well-known folders of mailbox " + mailbox
	out := map[string]string{}
	pending := make([]int, len(wellKnownNames))
	for i := range pending {
		pending[i] = i
	}
	for attempt := 0; ; attempt++ {
		again, wait, err := c.wellKnownBatch(ctx, s, mailbox, what, pending, out)
		if err != nil || len(again) == 0 {
			return out, err
		}
		if attempt == batchRetries || wait.RetryAfter > maxBatchWait {
			return nil, wait
		}
		pause := max(wait.RetryAfter, time.Duration(200<<attempt)*time.Millisecond)
		select {
		case <-ctx.Done():
			return nil, wait
		case <-time.After(pause):
		}
		pending = again
	}
}

// batchRetries and maxBatchWait bound the in-call retries of a batch's
// throttled requests; beyond them Temporal's retry (with Retry-After) takes
// over.
const (
	batchRetries = 5
	maxBatchWait = 30 * time.Second
)

// wellKnownBatch sends one $batch for the pending names, records what it
// resolved in out, and returns the names to ask again with the error that
// says why (the longest Retry-After among them).
func (c *Client) wellKnownBatch(ctx context.Context, s *session, mailbox, what string, pending []int, out map[string]string) ([]int, *activities.GraphError, error) {
	type inner struct {
		ID     string `json:"id"`
		Method string `json:"method"`
		URL    string `json:"url"`
	}
	var req struct {
		Requests []inner `json:"requests"`
	}
	for _, i := range pending {
		req.Requests = append(req.Requests, inner{ID: strconv.Itoa(i), Method: http.MethodGet,
			URL: "/users/" + url.PathEscape(mailbox) + "/mailFolders/" + wellKnownNames[i] + "?$select=id"})
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := s.sendJSON(ctx, mailbox, abstractions.POST, c.graphURL("/$batch", nil), payload)
	if err != nil {
		return nil, nil, err
	}
	var resp batchResponse
	if err := json.Unmarshal(body, &resp); err != nil || resp.Responses == nil {
		return nil, nil, &activities.GraphError{Kind: activities.KindMalformed, Message: what + ": the $batch answer has no responses"}
	}
	var again []int
	var wait *activities.GraphError
	for _, r := range resp.Responses {
		i, err := strconv.Atoi(r.ID)
		if err != nil || !slices.Contains(pending, i) {
			return nil, nil, &activities.GraphError{Kind: activities.KindMalformed, Message: fmt.Sprintf("%s: a $batch response has the unknown id %q", what, r.ID)}
		}
		switch {
		case r.Status == http.StatusOK:
			var f struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(r.Body, &f); err != nil || f.ID == "" {
				return nil, nil, &activities.GraphError{Kind: activities.KindMalformed, Message: fmt.Sprintf("%s: %s has no id", what, wellKnownNames[i])}
			}
			out[f.ID] = wellKnownNames[i]
		case r.Status == http.StatusNotFound:
		case r.Status == http.StatusTooManyRequests || r.Status >= 500:
			ge := &activities.GraphError{Kind: activities.KindUnavailable, Status: r.Status, Message: what + ": an inner request failed"}
			if r.Status == http.StatusTooManyRequests {
				ge.Kind = activities.KindThrottled
			}
			if secs, err := strconv.Atoi(headerValue(r.Headers, "Retry-After")); err == nil {
				ge.RetryAfter = time.Duration(secs) * time.Second
			}
			if wait == nil || ge.RetryAfter > wait.RetryAfter {
				wait = ge
			}
			again = append(again, i)
		default:
			return nil, nil, &activities.GraphError{Kind: activities.KindBadRequest, Status: r.Status, Message: fmt.Sprintf("%s: GET %s answered %d", what, wellKnownNames[i], r.Status)}
		}
	}
	return again, wait, nil
}

// headerValue reads a header of a $batch response, whose names Graph sends
// in any case.
func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(name) {
			return v
		}
	}
	return ""
}
