package summarize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Chat summarizes with an OpenAI-compatible chat-completions endpoint:
// POST {URL}/chat/completions with {model, messages}, the digest being the
// first choice's message. It is a few lines of net/http rather than an
// OpenAI SDK: one request and one answer field are all it needs, and the
// same code then serves OpenAI, Azure OpenAI and local servers (vLLM,
// Ollama, llama.cpp) that implement only this route.
type Chat struct {
	// Name is the summarizer's name in the configuration, for errors.
	Name string
	// URL is the endpoint's base: the request goes to URL with
	// /chat/completions added to its path, its query kept (Azure's
	// api-version). https://api.openai.com/v1, or
	// https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT?api-version=2024-10-21.
	URL string
	// Model is sent as the request's model (Azure ignores it: the
	// deployment in the URL decides).
	Model string
	// Azure sends the key in an api-key header (Azure OpenAI) instead of
	// Authorization: Bearer.
	Azure bool
	// APIKey returns the key at call time (nil, or "", for an endpoint
	// without one), so a rotated key file needs no restart.
	APIKey func() (string, error)
	// Timeout bounds one request; 0 means DefaultTimeout.
	Timeout time.Duration
	// HTTP is the client (nil: http.DefaultClient's transport).
	HTTP *http.Client
}

// DefaultTimeout bounds a chat-completions request when none is set: a
// digest of a few dozen threads takes a hosted model seconds, a local one
// on a CPU much longer.
const DefaultTimeout = 2 * time.Minute

// maxAnswer bounds the answer read from the endpoint.
const maxAnswer = 4 << 20

// Material limits: what one request may carry of a thread's texts and in
// all, so a long thread cannot push the prompt past a model's context.
const (
	maxTextPerMessage = 4000
	maxMaterial       = 60000
)

// instructions is the system message.
const instructions = "You write short digests for a busy person. You get a list of email threads or calendar events, " +
	"one per line, with message texts under a thread when there are any. Write a plain-text digest: one line per item, " +
	"most important first, saying who wants what and what needs an answer or a decision. Do not invent facts; " +
	"use only what is given. No preamble, no markdown headings."

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model    string        `json:"model,omitempty"`
	Messages []chatMessage `json:"messages"`
}

type chatAnswer struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
}

type chatErrorBody struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	} `json:"error"`
}

// Summarize implements Summarizer.
func (c *Chat) Summarize(ctx context.Context, req Request) (string, error) {
	endpoint, err := c.endpoint()
	if err != nil {
		return "", err
	}
	key := ""
	if c.APIKey != nil {
		if key, err = c.APIKey(); err != nil {
			return "", c.fail(0, false, 0, "reading the API key: %v; fix recipes.summarizers apiKey", err)
		}
	}
	body, err := json.Marshal(chatRequest{Model: c.Model, Messages: []chatMessage{
		{Role: "system", Content: instructions},
		{Role: "user", Content: Material(req)},
	}})
	if err != nil {
		return "", c.fail(0, false, 0, "encoding the request: %v", err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return "", c.fail(0, false, 0, "building the request: %v", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	if key != "" {
		if c.Azure {
			hr.Header.Set("api-key", key)
		} else {
			hr.Header.Set("Authorization", "Bearer "+key)
		}
	}
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	where := redacted(endpoint)
	resp, err := client.Do(hr)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", c.fail(0, true, 0, "POST %s gave no answer within %s; it is tried again later (raise timeout if the model is slow)", where, timeout)
		}
		// The transport's error names the URL and the cause, never the
		// request's headers or body.
		return "", c.fail(0, true, 0, "POST %s failed: %v; it is tried again later", where, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return "", c.fail(resp.StatusCode, true, 0, "POST %s: reading the answer: %v; it is tried again later", where, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", c.statusError(resp, data, where)
	}
	var answer chatAnswer
	if err := json.Unmarshal(data, &answer); err != nil {
		return "", c.fail(resp.StatusCode, false, 0, "POST %s answered %d with something that is not a chat completion (%v); check that url points at an OpenAI-compatible API (the part before /chat/completions)", where, resp.StatusCode, err)
	}
	if len(answer.Choices) == 0 {
		return "", c.fail(resp.StatusCode, false, 0, "POST %s answered without choices; check that url points at an OpenAI-compatible chat-completions API", where)
	}
	first := answer.Choices[0]
	if first.Message.Content == nil || strings.TrimSpace(*first.Message.Content) == "" {
		return "", c.fail(resp.StatusCode, false, 0, "POST %s answered with an empty message (finish_reason %q); a content filter or a token limit may have stopped it", where, first.FinishReason)
	}
	return strings.TrimSpace(*first.Message.Content), nil
}

// endpoint is URL with /chat/completions appended to its path.
func (c *Chat) endpoint() (*url.URL, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, c.fail(0, false, 0, "url %q is not an http(s) URL; set recipes.summarizers url to the API's base, e.g. https://api.openai.com/v1", c.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/chat/completions"
	u.RawPath = ""
	return u, nil
}

// redacted is the endpoint as errors name it: scheme, host and path (the
// query may hold an api-version, but a user might have put a key there).
func redacted(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.Path
}

// statusError explains a non-2xx answer: 429 and 5xx are retried (after
// the Retry-After the endpoint gave), other statuses need a fix.
func (c *Chat) statusError(resp *http.Response, data []byte, where string) error {
	status := resp.StatusCode
	detail := ""
	var eb chatErrorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error.Message != "" {
		detail = ": " + truncate(strings.Join(strings.Fields(eb.Error.Message), " "), 200)
		if code := fmt.Sprint(eb.Error.Code); eb.Error.Code != nil && code != "" {
			detail = fmt.Sprintf(" (%s)%s", code, detail)
		}
	}
	head := fmt.Sprintf("POST %s answered %d %s%s", where, status, http.StatusText(status), detail)
	switch {
	case status == http.StatusTooManyRequests:
		return c.fail(status, true, retryAfter(resp.Header), "%s; throttled, it is tried again later", head)
	case status >= 500:
		return c.fail(status, true, retryAfter(resp.Header), "%s; the endpoint failed, it is tried again later", head)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return c.fail(status, false, 0, "%s; check recipes.summarizers apiKey (Azure OpenAI takes it with azure: true)", head)
	case status == http.StatusNotFound:
		return c.fail(status, false, 0, "%s; check url (the API's base, before /chat/completions) and model or deployment", head)
	default:
		return c.fail(status, false, 0, "%s; the endpoint refused the request: check model and the endpoint's limits", head)
	}
}

// retryAfter reads Azure's retry-after-ms or the standard Retry-After
// (seconds or an HTTP date).
func retryAfter(h http.Header) time.Duration {
	if ms, err := strconv.Atoi(strings.TrimSpace(h.Get("retry-after-ms"))); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func (c *Chat) fail(status int, retryable bool, after time.Duration, format string, args ...any) *Error {
	return &Error{Summarizer: c.Name, Status: status, Retryable: retryable, RetryAfter: after, Message: fmt.Sprintf(format, args...)}
}

// Material is what a chat summarizer is given: the digest's heading, a
// line per item and, under a thread, its texts (each and all bounded).
func Material(req Request) string {
	var b strings.Builder
	b.WriteString(req.heading())
	b.WriteString("\n")
	for i, t := range req.Threads {
		fmt.Fprintf(&b, "\n%d. %s\n", i+1, t.describe(req.Location))
		for _, text := range t.Texts {
			if b.Len() >= maxMaterial {
				break
			}
			b.WriteString("   > " + strings.ReplaceAll(truncate(text, maxTextPerMessage), "\n", "\n   > ") + "\n")
		}
	}
	for i, e := range req.Events {
		fmt.Fprintf(&b, "\n%d. %s", i+1, e.describe(req.Location))
	}
	out := b.String()
	if len(out) > maxMaterial {
		out = strings.ToValidUTF8(out[:maxMaterial], "") + "\n[the rest is left out]"
	}
	return out
}
