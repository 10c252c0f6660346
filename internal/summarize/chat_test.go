package summarize

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "sk-test-1234567890"

// chatServer is a local endpoint that speaks the chat-completions
// protocol: it records each request and answers with answer(w, r).
type chatServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                chatRequest
	Raw                 string
}

func newChatServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *chatServer {
	t.Helper()
	s := &chatServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		rec := recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Raw: string(raw)}
		if err := json.Unmarshal(raw, &rec.Body); err != nil {
			http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *chatServer) only(t *testing.T) recorded {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) != 1 {
		t.Fatalf("the endpoint got %d requests, want 1", len(s.requests))
	}
	return s.requests[0]
}

func completion(content string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-test",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": content}}},
		})
	}
}

func key() (string, error) { return testKey, nil }

var threadsRequest = Request{Kind: Threads, Scope: "since Mon 2 Mar 09:00", Threads: []Thread{{
	Subject: "Lisbon budget", Participants: []string{"Megan Bowen"}, Messages: 1, Last: monday, LastFrom: "Megan Bowen",
	Unanswered: true, Texts: []string{"Finance needs the numbers by Wednesday."},
}}}

func TestChatPostsModelAndMessagesWithABearerKey(t *testing.T) {
	srv := newChatServer(t, completion("  - Lisbon budget: Megan needs numbers by Wednesday.\n"))
	c := &Chat{Name: "openai", URL: srv.URL + "/v1/", Model: "gpt-test", APIKey: key}
	got, err := c.Summarize(context.Background(), threadsRequest)
	if err != nil {
		t.Fatal(err)
	}
	if got != "- Lisbon budget: Megan needs numbers by Wednesday." {
		t.Fatalf("summary = %q, want the first choice's content, trimmed", got)
	}
	req := srv.only(t)
	if req.Method != http.MethodPost || req.Path != "/v1/chat/completions" || req.Query != "" {
		t.Fatalf("request %s %s?%s, want POST /v1/chat/completions", req.Method, req.Path, req.Query)
	}
	if h := req.Header.Get("Authorization"); h != "Bearer "+testKey {
		t.Fatalf("Authorization = %q, want the bearer key", h)
	}
	if h := req.Header.Get("api-key"); h != "" {
		t.Fatalf("api-key = %q on a non-Azure endpoint", h)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if req.Body.Model != "gpt-test" || len(req.Body.Messages) != 2 || req.Body.Messages[0].Role != "system" || req.Body.Messages[1].Role != "user" {
		t.Fatalf("body = %+v, want model gpt-test and a system then a user message", req.Body)
	}
	user := req.Body.Messages[1].Content
	for _, want := range []string{"1 thread since Mon 2 Mar 09:00", "Lisbon budget — Megan Bowen", "(unanswered)", "> Finance needs the numbers by Wednesday."} {
		if !strings.Contains(user, want) {
			t.Errorf("the user message lacks %q:\n%s", want, user)
		}
	}
}

func TestChatAzureSendsTheKeyAsApiKeyAndKeepsTheApiVersion(t *testing.T) {
	srv := newChatServer(t, completion("digest"))
	c := &Chat{Name: "azure", URL: srv.URL + "/openai/deployments/gpt4o?api-version=2024-10-21", Model: "gpt-4o", Azure: true, APIKey: key}
	if _, err := c.Summarize(context.Background(), threadsRequest); err != nil {
		t.Fatal(err)
	}
	req := srv.only(t)
	if req.Path != "/openai/deployments/gpt4o/chat/completions" || req.Query != "api-version=2024-10-21" {
		t.Fatalf("request %s?%s, want the deployment's chat/completions with api-version", req.Path, req.Query)
	}
	if req.Header.Get("api-key") != testKey || req.Header.Get("Authorization") != "" {
		t.Fatalf("headers api-key=%q Authorization=%q, want only api-key", req.Header.Get("api-key"), req.Header.Get("Authorization"))
	}
}

func TestChatWithoutAKeySendsNoCredentialAndBodiesOnlyWhenGiven(t *testing.T) {
	srv := newChatServer(t, completion("digest"))
	c := &Chat{Name: "local", URL: srv.URL, Model: "llama"}
	req := threadsRequest
	req.Threads = []Thread{{Subject: "Lisbon budget", Messages: 1, Last: monday}}
	if _, err := c.Summarize(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	got := srv.only(t)
	if got.Path != "/chat/completions" || got.Header.Get("Authorization") != "" || got.Header.Get("api-key") != "" {
		t.Fatalf("request %s with Authorization %q api-key %q, want /chat/completions without credentials", got.Path, got.Header.Get("Authorization"), got.Header.Get("api-key"))
	}
	if strings.Contains(got.Raw, "Finance") || strings.Contains(got.Body.Messages[1].Content, ">") {
		t.Fatalf("a request without texts carries message text: %s", got.Raw)
	}
}

func TestChatErrorsSayWhetherToRetryAndWhatToFix(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(w http.ResponseWriter, r *http.Request)
		retryable bool
		after     time.Duration
		status    int
		wants     []string
	}{
		{"throttled with Retry-After", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
		}, true, 7 * time.Second, 429, []string{"429 Too Many Requests", "(rate_limit_exceeded): Rate limit reached", "tried again later"}},
		{"Azure retry-after-ms", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("retry-after-ms", "1500")
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		}, true, 1500 * time.Millisecond, 429, []string{"throttled"}},
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}, true, 0, 502, []string{"502 Bad Gateway", "the endpoint failed"}},
		{"wrong key", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"message":"Incorrect API key provided: sk-tes**7890.","code":"invalid_api_key"}}`)
		}, false, 0, 401, []string{"401 Unauthorized", "check recipes.summarizers apiKey"}},
		{"unknown deployment", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}`)
		}, false, 0, 404, []string{"(DeploymentNotFound)", "check url"}},
		{"bad request", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":{"message":"The model 'nope' does not exist","code":"model_not_found"}}`)
		}, false, 0, 400, []string{"model_not_found", "check model"}},
		{"not a chat completion", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `<html>a login page</html>`)
		}, false, 0, 200, []string{"not a chat completion", "OpenAI-compatible"}},
		{"no choices", completionJSON(`{"choices":[]}`), false, 0, 200, []string{"without choices"}},
		{"filtered", completionJSON(`{"choices":[{"message":{"role":"assistant","content":null},"finish_reason":"content_filter"}]}`),
			false, 0, 200, []string{"empty message", `"content_filter"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newChatServer(t, tt.answer)
			_, err := (&Chat{Name: "openai", URL: srv.URL + "/v1", Model: "m", APIKey: key}).Summarize(context.Background(), threadsRequest)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *summarize.Error", err)
			}
			if se.Retryable != tt.retryable || se.RetryAfter != tt.after || se.Status != tt.status {
				t.Fatalf("err %v: retryable %v after %s status %d; want %v %s %d", err, se.Retryable, se.RetryAfter, se.Status, tt.retryable, tt.after, tt.status)
			}
			msg := err.Error()
			for _, want := range append(tt.wants, `summarizer "openai"`, "/v1/chat/completions") {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, testKey) || strings.Contains(msg, "Finance needs") {
				t.Errorf("error %q repeats the key or the mail", msg)
			}
		})
	}
}

func completionJSON(body string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

func TestChatTimeoutIsRetryableAndNamesTheLimit(t *testing.T) {
	release := make(chan struct{})
	srv := newChatServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	_, err := (&Chat{Name: "slow", URL: srv.URL, Model: "m", Timeout: 200 * time.Millisecond}).Summarize(context.Background(), threadsRequest)
	var se *Error
	if !errors.As(err, &se) || !se.Retryable || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Fatalf("err = %v, want a retryable timeout naming 200ms", err)
	}
}

func TestChatUnreachableAndMisconfiguredEndpoints(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := (&Chat{Name: "down", URL: url, Model: "m"}).Summarize(context.Background(), threadsRequest)
	var se *Error
	if !errors.As(err, &se) || !se.Retryable || se.Status != 0 {
		t.Fatalf("a closed endpoint: err = %v, want retryable without a status", err)
	}
	_, err = (&Chat{Name: "bad", URL: "ftp://example.com", Model: "m"}).Summarize(context.Background(), threadsRequest)
	if !errors.As(err, &se) || se.Retryable || !strings.Contains(err.Error(), "not an http(s) URL") {
		t.Fatalf("an ftp URL: err = %v, want a non-retryable error naming the URL", err)
	}
	_, err = (&Chat{Name: "nokey", URL: "https://example.com", APIKey: func() (string, error) {
		return "", errors.New("environment variable OPENAI_KEY is not set")
	}}).Summarize(context.Background(), threadsRequest)
	if !errors.As(err, &se) || se.Retryable || !strings.Contains(err.Error(), "OPENAI_KEY is not set") {
		t.Fatalf("an unreadable key: err = %v, want a non-retryable error saying why", err)
	}
}

func TestMaterialIsBoundedWhateverTheThreads(t *testing.T) {
	long := strings.Repeat("é", maxTextPerMessage*2)
	req := Request{Kind: Threads}
	for i := 0; i < 40; i++ {
		req.Threads = append(req.Threads, Thread{Subject: "s", Messages: 3, Last: monday, Texts: []string{long, long, long}})
	}
	m := Material(req)
	if len(m) > maxMaterial+100 || !strings.HasSuffix(m, "[the rest is left out]") {
		t.Fatalf("material is %d bytes (limit %d), ending %q", len(m), maxMaterial, m[len(m)-40:])
	}
	if !strings.Contains(m, "1. s; 3 messages") {
		t.Fatalf("material lacks the first thread's line")
	}
}
