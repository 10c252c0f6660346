package graphsim

import (
	"net/http"
	"testing"
	"time"
)

// How fast SeedLarge runs is not asserted here (a timed test fails on a
// loaded machine and proves nothing); make bench's prep shows it.
func TestSeedLarge_BuildsBigTenantsDeterministically(t *testing.T) {
	sim, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	start := time.Now()
	creds, err := sim.SeedLarge(LargeSeed{Mailboxes: 200, Folders: 3, MessagesPerMailbox: 2000, EventsPerMailbox: 50})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("200 x 2000 messages + 50 events: %v", took)
	msgs, err := sim.Mailbox(creds.TenantID, "user00042@large.example", "")
	if err != nil || len(msgs) != 2000 {
		t.Fatalf("mailbox: %d messages, %v", len(msgs), err)
	}
	inbox, _ := sim.Mailbox(creds.TenantID, "user00042@large.example", "inbox")
	sent, _ := sim.Mailbox(creds.TenantID, "user00042@large.example", "sentitems")
	if len(inbox) != 667 || len(sent) != 667 {
		t.Errorf("inbox %d sentitems %d, want 667 each (the rest in Projects)", len(inbox), len(sent))
	}
	tok := rawToken(t, sim, creds.TenantID, creds.ClientID, creds.ClientSecret)
	resp, body := rawDo(t, sim, http.MethodGet, "/v1.0/users/user00042@large.example/mailFolders/inbox/childFolders", tok, nil)
	if resp.StatusCode != 200 || len(valueOf(t, body)) != 1 {
		t.Errorf("Projects folder: %d %s", resp.StatusCode, body)
	}
	resp, body = rawDo(t, sim, http.MethodGet, "/v1.0/users/user00042@large.example/calendarView?startDateTime=2025-01-01T00:00:00Z&endDateTime=2026-01-01T00:00:00Z&$top=100", tok, nil)
	if resp.StatusCode != 200 || len(valueOf(t, body)) != 50 {
		t.Errorf("events: %d, %d", resp.StatusCode, len(valueOf(t, body)))
	}
	resp, body = rawDo(t, sim, http.MethodGet, "/v1.0/users/user00042@large.example/manager", tok, nil)
	if resp.StatusCode != 200 || jsonObject(t, body)["userPrincipalName"] != "user00004@large.example" {
		t.Errorf("manager: %d %s", resp.StatusCode, body)
	}

	// Deterministic: the same seed, the same ids.
	sim2, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim2.Close() })
	start = time.Now()
	creds2, err := sim2.SeedLarge(LargeSeed{Mailboxes: 10000, MessagesPerMailbox: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000 x 3 messages: %v", time.Since(start))
	small := LargeSeed{TenantID: "small-large", Mailboxes: 3, MessagesPerMailbox: 5, ContactsPerMailbox: 2}
	c1, _ := sim2.SeedLarge(small)
	a, _ := sim2.Mailbox(c1.TenantID, "user00001@large.example", "")
	c2, _ := sim2.SeedLarge(small)
	b, _ := sim2.Mailbox(c2.TenantID, "user00001@large.example", "")
	if c1 != c2 || len(a) != 5 || a[0].ID != b[0].ID || a[4].ID != b[4].ID {
		t.Errorf("not deterministic: %v %v", c1, c2)
	}
	if creds2.TenantID == creds.TenantID {
		t.Error("different sizes share a tenant id")
	}
	out := controlCall(t, sim2, http.MethodPost, "/seed/large", LargeSeed{TenantID: "via-http", Mailboxes: 2, MessagesPerMailbox: 4}, 200)
	if out["tenantId"] != "via-http" || out["clientSecret"] == "" {
		t.Errorf("POST /seed/large: %v", out)
	}
}
