package graphclient

import (
	"context"
	"encoding/json"

	"errors"
	"fmt"
	gojson "github.com/goccy/go-json"
	"net/http"
	"strconv"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"

	"github.com/outlookflow/outlookflow/activities"
)

// JSON batching ($batch, graph-behavior.md §7): one HTTPS round trip
// carries up to 20 GETs of one mailbox. Graph still throttles and counts
// every item on its own, so the mailbox limits count a batch as its items
// (limits.go); what a batch saves is latency and per-request work on both
// ends — an idle mailbox's whole round is one round trip.

// maxBatchItems is Graph's limit of requests per $batch.
const maxBatchItems = 20

// batchRetries and maxBatchWait bound the in-call retries of a batch's
// throttled items; beyond them Temporal's retry (with Retry-After) takes
// over.
const (
	batchRetries = 5
	maxBatchWait = 30 * time.Second
)

// batchAnswer is one item's outcome: its body, or the error Graph answered
// for it alone, classified as a direct request's would be.
type batchAnswer struct {
	body []byte
	err  error
}

type batchRequestItem struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
}

type batchResponse struct {
	Responses []struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

// batchGet GETs urls — absolute Graph URLs, first-call URLs or saved next
// and delta links — for one mailbox, in $batch requests of up to 20, and
// returns an answer per URL; an answer's error does not name its request,
// the caller does (prefixed). Items answered 429 or 5xx (or missing from the
// answer) are asked again, only those and after their Retry-After, a few
// times; if they still fail, the call fails retryably with the longest
// Retry-After. The call itself fails only for what fails the whole batch
// (the network, the token, a malformed batch answer).
func (c *Client) batchGet(ctx context.Context, s *session, mailbox, what string, urls []string) ([]batchAnswer, error) {
	answers := make([]batchAnswer, len(urls))
	rels := make([]string, len(urls))
	var pending []int
	for i, u := range urls {
		rel, ok := c.relativeURL(u)
		if !ok {
			answers[i].err = &activities.GraphError{Kind: activities.KindBadRequest, Message: fmt.Sprintf("the link %q is not under the Graph base URL", u)}
			continue
		}
		rels[i] = rel
		pending = append(pending, i)
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		var again []int
		var wait *activities.GraphError
		for start := 0; start < len(pending); start += maxBatchItems {
			chunk := pending[start:min(start+maxBatchItems, len(pending))]
			retry, w, err := c.sendBatch(ctx, s, mailbox, what, rels, chunk, answers)
			if err != nil {
				return nil, err
			}
			again = append(again, retry...)
			if w != nil && (wait == nil || w.RetryAfter > wait.RetryAfter) {
				wait = w
			}
		}
		if len(again) == 0 {
			break
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
	return answers, nil
}

// relativeURL turns an absolute Graph URL into the form a batch item takes
// (relative to the version root, as "/users/…").
func (c *Client) relativeURL(u string) (string, bool) {
	base := strings.TrimSuffix(c.cloud.GraphBaseURL, "/")
	if len(u) <= len(base) || !strings.EqualFold(u[:len(base)], base) || u[len(base)] != '/' {
		return "", false
	}
	return u[len(base):], true
}

// sendBatch sends one $batch for the items chunk names, records their
// answers, and returns the items to ask again with the error that says why
// (the longest Retry-After among them).
func (c *Client) sendBatch(ctx context.Context, s *session, mailbox, what string, urls []string, chunk []int, answers []batchAnswer) ([]int, *activities.GraphError, error) {
	var req struct {
		Requests []batchRequestItem `json:"requests"`
	}
	headers := map[string]string{"Accept": "application/json", "Prefer": "odata.maxpagesize=" + strconv.Itoa(maxPageSize)}
	for _, i := range chunk {
		req.Requests = append(req.Requests, batchRequestItem{ID: strconv.Itoa(i), Method: http.MethodGet, URL: urls[i], Headers: headers})
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := s.sendJSON(ctx, mailbox, len(chunk), abstractions.POST, c.graphURL("/$batch", nil), payload)
	if err != nil {
		return nil, nil, err
	}
	var resp batchResponse
	if err := gojson.Unmarshal(body, &resp); err != nil || resp.Responses == nil {
		return nil, nil, &activities.GraphError{Kind: activities.KindMalformed, Message: what + ": the $batch answer has no responses"}
	}
	answered := make(map[int]bool, len(chunk))
	var again []int
	var wait *activities.GraphError
	for _, r := range resp.Responses {
		i, err := strconv.Atoi(r.ID)
		if err != nil || i < 0 || i >= len(answers) || answered[i] {
			return nil, nil, &activities.GraphError{Kind: activities.KindMalformed, Message: fmt.Sprintf("%s: a $batch response has the unknown id %q", what, r.ID)}
		}
		answered[i] = true
		if r.Status >= 200 && r.Status < 300 {
			answers[i] = batchAnswer{body: r.Body}
			continue
		}
		ge := batchItemError(r.Status, r.Headers, r.Body)
		if ge.Kind == activities.KindThrottled || ge.Kind == activities.KindUnavailable {
			again = append(again, i)
			if wait == nil || ge.RetryAfter > wait.RetryAfter {
				wait = ge
			}
			continue
		}
		answers[i] = batchAnswer{err: ge}
	}
	for _, i := range chunk {
		if !answered[i] {
			again = append(again, i)
			if wait == nil {
				wait = &activities.GraphError{Kind: activities.KindUnavailable, Message: what + ": the $batch answer left out a request"}
			}
		}
	}
	return again, wait, nil
}

// batchItemError classifies an item's error answer the way a direct
// request's is: status, the error envelope's code, Retry-After.
func batchItemError(status int, headers map[string]string, body json.RawMessage) *activities.GraphError {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &env)
	h := abstractions.NewResponseHeaders()
	for k, v := range headers {
		h.Add(k, v)
	}
	msg := env.Error.Message
	if msg == "" {
		msg = fmt.Sprintf("answered %d", status)
	}
	ge, _ := classifyGraph(status, env.Error.Code, msg, h).(*activities.GraphError)
	return ge
}

// prefixed names the request a batch item's error belongs to.
func prefixed(err error, what string) error {
	var ge *activities.GraphError
	if !errors.As(err, &ge) {
		return fmt.Errorf("%s: %w", what, err)
	}
	c := *ge
	c.Message = what + ": " + c.Message
	return &c
}
