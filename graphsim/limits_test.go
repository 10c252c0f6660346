package graphsim

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// concurrentGets sends n GETs to path at once and returns the responses'
// statuses and Retry-After headers.
func concurrentGets(t *testing.T, sim *Server, tok, path string, n int) (statuses []int, retryAfter []string) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := rawDo(t, sim, http.MethodGet, path, tok, nil)
			mu.Lock()
			defer mu.Unlock()
			statuses = append(statuses, resp.StatusCode)
			if resp.StatusCode == 429 {
				retryAfter = append(retryAfter, resp.Header.Get("Retry-After"))
				if !strings.Contains(string(body), `"TooManyRequests"`) {
					t.Errorf("429 body %s, want code TooManyRequests", body)
				}
			}
		}()
	}
	wg.Wait()
	return statuses, retryAfter
}

func count(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

// S47 and §7: 4 concurrent requests per (app, mailbox); MaxInFlight counts
// whether or not the limit is enforced.
func TestLimits_FiveConcurrentRequestsToOneMailbox(t *testing.T) {
	t.Parallel()
	e, tok := startMailDeltaSim(t, 3, Options{LatencyFixed: 400 * time.Millisecond})
	big := e.seed.Users[0]
	path := "/v1.0/users/" + big.UserPrincipalName + "/messages"

	statuses, _ := concurrentGets(t, e.sim, tok, path, 5)
	if count(statuses, 200) != 5 {
		t.Fatalf("enforcement off: statuses %v, want five 200s", statuses)
	}
	if got := e.sim.MaxInFlight(e.creds.TenantID, big.ID); got != 5 {
		t.Errorf("MaxInFlight(id) = %d, want 5", got)
	}
	if got := e.sim.MaxInFlight(e.creds.TenantID, big.UserPrincipalName); got != 5 {
		t.Errorf("MaxInFlight(upn) = %d, want 5", got)
	}
	e.sim.ResetMaxInFlight(e.creds.TenantID)
	if got := e.sim.MaxInFlight(e.creds.TenantID, big.ID); got != 0 {
		t.Errorf("after reset: %d", got)
	}

	e.sim.SetMailboxLimits(GraphMailboxLimits)
	statuses, ra := concurrentGets(t, e.sim, tok, path, 5)
	if count(statuses, 200) != 4 || count(statuses, 429) != 1 {
		t.Fatalf("enforcement on: statuses %v, want four 200s and one 429", statuses)
	}
	if n, err := strconv.Atoi(ra[0]); err != nil || n < 1 {
		t.Errorf("Retry-After %q, want a positive integer", ra[0])
	}
	// Another mailbox is not affected; directory navigations are not counted.
	statuses, _ = concurrentGets(t, e.sim, tok, "/v1.0/users/"+e.seed.Users[1].ID+"/messages", 4)
	if count(statuses, 200) != 4 {
		t.Errorf("other mailbox: %v", statuses)
	}
	if got := e.sim.MaxInFlight(e.creds.TenantID, e.seed.Users[1].ID); got != 4 {
		t.Errorf("other mailbox MaxInFlight = %d", got)
	}
}

// S47: 10,000 requests per 10 minutes, here scaled down.
func TestLimits_RequestRateGives429WithRetryAfter(t *testing.T) {
	t.Parallel()
	e, tok := startMailDeltaSim(t, 1, Options{MailboxRequestLimit: 3, MailboxRequestWindow: time.Minute})
	path := "/v1.0/users/" + e.seed.Users[0].ID + "/mailFolders"
	for i := 0; i < 3; i++ {
		if resp, body := rawDo(t, e.sim, http.MethodGet, path, tok, nil); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := rawDo(t, e.sim, http.MethodGet, path, tok, nil)
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || err != nil || ra < 1 || ra > 60 || !strings.Contains(string(body), `"TooManyRequests"`) {
		t.Errorf("4th request: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+e.seed.Users[1].ID+"/mailFolders", tok, nil); resp.StatusCode != 200 {
		t.Errorf("other mailbox: %d", resp.StatusCode)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+e.seed.Users[0].ID, tok, nil); resp.StatusCode != 200 {
		t.Errorf("the user object (directory, not the mailbox): %d", resp.StatusCode)
	}
}

func TestLatency_FixedPlusPerItem(t *testing.T) {
	t.Parallel()
	e, tok := startMailDeltaSim(t, 10, Options{})
	e.sim.SetLatency(Latency{Fixed: 100 * time.Millisecond, PerItem: 20 * time.Millisecond})
	start := time.Now()
	resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+e.seed.Users[0].ID+"/messages?$top=10", tok, nil)
	if took := time.Since(start); resp.StatusCode != 200 || took < 300*time.Millisecond {
		t.Errorf("10 items: %d in %v, want >= 300ms", resp.StatusCode, took)
	}
	start = time.Now()
	rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+e.seed.Users[0].ID+"/messages?$top=1", tok, nil)
	if took := time.Since(start); took < 120*time.Millisecond || took > 280*time.Millisecond {
		t.Errorf("1 item took %v, want about 120ms", took)
	}
	start = time.Now()
	controlCall(t, e.sim, http.MethodGet, "/health", nil, 200)
	if took := time.Since(start); took > 90*time.Millisecond {
		t.Errorf("control API delayed: %v", took)
	}
}
