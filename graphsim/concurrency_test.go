package graphsim

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Many clients at once: reads, sends, fault changes and control calls
// interleave without deadlock, and every send is delivered exactly once.
// Run with -race to check the locking.
func TestServer_ConcurrentRequestsAreSafe(t *testing.T) {
	t.Parallel()
	e := startMailSim(t, 50)
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	ann, bob := e.seed.Users[1], e.seed.Users[2]
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan string, workers*each*3)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				body := fmt.Sprintf(`{"message":{"subject":"w%d-%d","toRecipients":[{"emailAddress":{"address":%q}}]}}`, w, i, bob.Mail)
				if resp, b := rawDo(t, e.sim, http.MethodPost, "/v1.0/users/"+ann.ID+"/sendMail", token, strings.NewReader(body), "Content-Type: application/json"); resp.StatusCode != http.StatusAccepted {
					errs <- fmt.Sprintf("sendMail: %d %s", resp.StatusCode, b)
				}
				if resp, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+e.seed.Users[0].ID+"/messages?$top=7&$skip=3", token, nil); resp.StatusCode != http.StatusOK {
					errs <- fmt.Sprintf("list: %d %s", resp.StatusCode, b)
				}
				id := e.sim.InjectFault(Fault{Path: "/v1.0/nothing-matches-this", Status: 500})
				e.sim.RemoveFault(id)
				_ = e.sim.Requests()
				if _, err := e.sim.Mailbox(e.creds.TenantID, bob.ID, "inbox"); err != nil {
					errs <- err.Error()
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	inbox, _ := e.sim.Mailbox(e.creds.TenantID, bob.ID, "inbox")
	sent, _ := e.sim.Mailbox(e.creds.TenantID, ann.ID, "sentitems")
	if len(inbox) != workers*each || len(sent) != workers*each {
		t.Errorf("inbox %d, sent %d, want %d each", len(inbox), len(sent), workers*each)
	}
}
