package graphsim

import (
	"net/http"
	"testing"
	"time"
)

// The snapshot agrees with what Graph serves, field by field, for a sample.
func TestSnapshot_MatchesWhatGraphServes(t *testing.T) {
	t.Parallel()
	e, tok := demoToken(t)
	snap, err := e.sim.Snapshot(e.creds.TenantID, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Users) != 36 || len(snap.Groups) != 5 || len(snap.Mailboxes) != 36 {
		t.Fatalf("users %d groups %d mailboxes %d", len(snap.Users), len(snap.Groups), len(snap.Mailboxes))
	}
	u := e.seed.Users[5]
	mb := snap.Mailboxes[u.ID]
	if len(mb.Messages) != len(u.Messages) || len(mb.Contacts) != len(u.Contacts) || len(mb.Events) == 0 || len(mb.Folders) != 9 {
		t.Fatalf("mailbox: %d messages %d contacts %d events %d folders", len(mb.Messages), len(mb.Contacts), len(mb.Events), len(mb.Folders))
	}
	_, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+u.ID+"/messages?$top=1", tok, nil)
	got := valueOf(t, body)[0]
	m := mb.Messages[0]
	if got["id"] != m.ID || got["parentFolderId"] != m.FolderID || got["conversationId"] != m.ConversationID ||
		got["internetMessageId"] != m.InternetMessageID || got["subject"] != m.Subject || got["isRead"] != m.IsRead ||
		got["receivedDateTime"] != graphTime(m.ReceivedDateTime) || got["importance"] != m.Importance ||
		got["from"].(map[string]any)["emailAddress"].(map[string]any)["address"] != m.From.Address ||
		got["flag"].(map[string]any)["flagStatus"] != m.FlagStatus {
		t.Errorf("message snapshot %+v\nvs Graph %v", m, got)
	}
	if mb.MailboxSettings.TimeZone != u.MailboxSettings.TimeZone || mb.MailboxSettings.WorkingHours.StartTime == "" {
		t.Errorf("settings %+v", mb.MailboxSettings)
	}
	var mgr string
	for _, su := range snap.Users {
		if su.ID == u.ID {
			mgr = su.ManagerID
		}
	}
	if mgr != u.ManagerID {
		t.Errorf("manager %q, want %q", mgr, u.ManagerID)
	}
	if _, err := e.sim.Snapshot("nope", time.Time{}, time.Time{}); err == nil {
		t.Error("unknown tenant")
	}
}
