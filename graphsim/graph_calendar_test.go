package graphsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

var calBase = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC) // a Monday

// calendarSim: ann organizes a weekly series with bob (5 occurrences), a
// single online meeting with bob, and a private event.
func calendarSim(t *testing.T) (*simEnv, string, map[string]string) {
	t.Helper()
	seed, creds := mailSeed(0)
	seed.Apps[0].GrantedRoles = []string{"Calendars.Read", "User.Read.All"}
	ann, bob := seed.Users[1], seed.Users[2]
	seed.Events = []EventSeed{
		{ID: "AAMkAseries-weekly-sync-00000000000", Organizer: ann.Mail, Subject: "Weekly sync", Start: calBase.Add(10 * time.Hour), End: calBase.Add(11 * time.Hour),
			TimeZone: "Pacific Standard Time", Attendees: []EventAttendeeSeed{{Address: bob.Mail, Response: "accepted"}},
			Recurrence: &RecurrenceSeed{Pattern: "weekly", Interval: 1, Count: 5}},
		{ID: "AAMkAsingle-design-review-000000000", Organizer: ann.Mail, Subject: "Design review", Start: calBase.AddDate(0, 0, 2).Add(14 * time.Hour),
			End: calBase.AddDate(0, 0, 2).Add(15 * time.Hour), IsOnlineMeeting: true, Location: "Room 1",
			Attendees: []EventAttendeeSeed{{Address: bob.Mail}, {Address: "guest@external.example", Type: "optional"}}},
		{ID: "AAMkAsingle-dentist-000000000000000", Organizer: ann.Mail, Subject: "Dentist", Start: calBase.AddDate(0, 0, 4).Add(8 * time.Hour), End: calBase.AddDate(0, 0, 4).Add(9 * time.Hour)},
	}
	sim, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatal(err)
	}
	e := &simEnv{sim: sim, seed: seed, creds: creds}
	return e, rawToken(t, sim, creds.TenantID, creds.ClientID, creds.ClientSecret), map[string]string{"ann": ann.ID, "bob": bob.ID}
}

func window(from, to time.Time) string {
	return "startDateTime=" + url.QueryEscape(from.Format(time.RFC3339)) + "&endDateTime=" + url.QueryEscape(to.Format(time.RFC3339))
}

// (S31) Both bounds are required, on calendarView and its delta.
func TestCalendarView_MissingWindowGives400ErrorInvalidParameter(t *testing.T) {
	t.Parallel()
	e, tok, ids := calendarSim(t)
	for _, p := range []string{"/calendarView", "/calendarView?startDateTime=2025-03-01T00:00:00", "/calendarView/delta()?endDateTime=2025-03-01T00:00:00", "/calendarView/delta"} {
		resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+p, tok, nil)
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"ErrorInvalidParameter"`) ||
			!strings.Contains(string(body), "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
}

// api/user-list-calendarview.md: occurrences, exceptions and single
// instances in the window; offsets; Prefer: outlook.timezone (S33).
func TestCalendarView_InstancesShapesOffsetsAndTimeZone(t *testing.T) {
	t.Parallel()
	e, tok, ids := calendarSim(t)
	// The window in -08:00 covers the first week: 3 Mar 00:00 PST = 08:00 UTC.
	q := "startDateTime=2025-03-03T00:00:00-08:00&endDateTime=2025-03-09T00:00:00-08:00"
	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["bob"]+"/calendarView?"+strings.ReplaceAll(q, "+", "%2B"), tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	items := valueOf(t, body)
	if len(items) != 2 { // bob: the first occurrence and the design review (not ann's dentist)
		t.Fatalf("bob's week: %d events %s", len(items), body)
	}
	occ, review := items[0], items[1]
	if occ["type"] != "occurrence" || occ["seriesMasterId"] == nil || occ["subject"] != "Weekly sync" {
		t.Errorf("occurrence = %v", occ)
	}
	st := occ["start"].(map[string]any)
	if st["dateTime"] != "2025-03-03T10:00:00.0000000" || st["timeZone"] != "UTC" {
		t.Errorf("start without Prefer = %v, want UTC with 7 fractional digits", st)
	}
	if review["type"] != "singleInstance" || review["isOnlineMeeting"] != true ||
		!strings.HasPrefix(review["onlineMeeting"].(map[string]any)["joinUrl"].(string), "https://teams.microsoft.com/l/meetup-join/") {
		t.Errorf("online meeting = %v", review)
	}
	org := review["organizer"].(map[string]any)["emailAddress"].(map[string]any)
	att := review["attendees"].([]any)
	if org["address"] != "ann@fabrikam.example" || len(att) != 2 || att[0].(map[string]any)["status"].(map[string]any)["response"] != "none" ||
		review["responseStatus"].(map[string]any)["response"] != "none" || review["isOrganizer"] != false {
		t.Errorf("organizer %v attendees %v responseStatus %v", org, att, review["responseStatus"])
	}
	resp, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/calendarView?"+window(calBase, calBase.AddDate(0, 0, 35))+"&$select=subject,start&$top=4",
		tok, nil, `Prefer: outlook.timezone="Pacific Standard Time"`)
	if resp.Header.Get("Preference-Applied") != `outlook.timezone="Pacific Standard Time"` {
		t.Errorf("Preference-Applied = %q", resp.Header.Get("Preference-Applied"))
	}
	items = valueOf(t, body)
	sameKeys(t, "selected event", items[0], "@odata.etag", "id", "subject", "start")
	if st := items[0]["start"].(map[string]any); st["dateTime"] != "2025-03-03T02:00:00.0000000" || st["timeZone"] != "Pacific Standard Time" {
		t.Errorf("start in PST = %v", st)
	}
	total := len(items)
	for next, _ := jsonObject(t, body)["@odata.nextLink"].(string); next != ""; {
		_, b := rawDo(t, e.sim, http.MethodGet, next, tok, nil)
		total += len(valueOf(t, b))
		next, _ = jsonObject(t, b)["@odata.nextLink"].(string)
	}
	if total != 7 { // 5 occurrences + 2 single events
		t.Errorf("ann's 5 weeks: %d events, want 7", total)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/calendarView?"+window(calBase, calBase.AddDate(0, 0, 7))+"&$filter=isCancelled%20eq%20false", tok, nil); resp.StatusCode != 501 {
		t.Errorf("$filter on calendarView: %d, want 501", resp.StatusCode)
	}
	// Without a calendar permission: 403 ErrorAccessDenied.
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Mail.Read"}); err != nil {
		t.Fatal(err)
	}
	tok2 := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	if resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/calendarView?"+window(calBase, calBase.AddDate(0, 0, 7)), tok2, nil); resp.StatusCode != 403 || !strings.Contains(string(body), "ErrorAccessDenied") {
		t.Errorf("without Calendars.Read: %d %s", resp.StatusCode, body)
	}
}

// api/event-delta.md, S32: a paged round, then creates, updates moved out
// of the window, cancellations and deletions on the deltaLink.
func TestCalendarViewDelta_SDKRoundThenChangesAndRemovals(t *testing.T) {
	e, tok, ids := calendarSim(t)
	client, _ := e.demoClient(t)
	from, to := calBase.Format(time.RFC3339), calBase.AddDate(0, 0, 14).Format(time.RFC3339)
	cfg := &users.ItemCalendarViewDeltaRequestBuilderGetRequestConfiguration{
		Headers:         preferMaxPageSize(2),
		QueryParameters: &users.ItemCalendarViewDeltaRequestBuilderGetQueryParameters{StartDateTime: &from, EndDateTime: &to},
	}
	page, err := client.Users().ByUserId(ids["bob"]).CalendarView().Delta().GetAsDeltaGetResponse(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := len(page.GetValue())
	if n != 2 || page.GetOdataNextLink() == nil {
		t.Fatalf("first page: %d events, nextLink %v", n, page.GetOdataNextLink())
	}
	items, _, dl := deltaRoundRaw(t, e.sim, tok, *page.GetOdataNextLink(), "Prefer: odata.maxpagesize=2")
	if n+len(items) != 3 { // two occurrences and the design review
		t.Fatalf("bob's round: %d events, want 3", n+len(items))
	}
	if resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["bob"]+"/calendarView/delta?"+window(calBase, calBase.AddDate(0, 0, 14))+"&$select=subject", tok, nil); resp.StatusCode != 400 {
		t.Errorf("$select on calendarView delta: %d %s, want 400", resp.StatusCode, body)
	}

	tid := e.creds.TenantID
	newID, err := e.sim.CreateEvent(tid, EventSeed{Organizer: "ann@fabrikam.example", Subject: "Kickoff", Start: calBase.AddDate(0, 0, 8).Add(9 * time.Hour),
		End: calBase.AddDate(0, 0, 8).Add(10 * time.Hour), Attendees: []EventAttendeeSeed{{Address: "bob@fabrikam.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = newID
	// Bob's copies: find the design review and the second occurrence.
	_, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/calendarView?"+window(calBase, calBase.AddDate(0, 0, 14)), tok, nil)
	var reviewAnn, occ2Ann string
	for _, it := range valueOf(t, body) {
		switch {
		case it["subject"] == "Design review":
			reviewAnn = it["id"].(string)
		case it["type"] == "occurrence" && strings.HasPrefix(it["start"].(map[string]any)["dateTime"].(string), "2025-03-10"):
			occ2Ann = it["id"].(string)
		}
	}
	if err := e.sim.CancelEvent(tid, ids["ann"], reviewAnn); err != nil {
		t.Fatal(err)
	}
	moved := calBase.AddDate(0, 1, 0)
	movedEnd := moved.Add(time.Hour)
	if err := e.sim.UpdateEvent(tid, ids["ann"], occ2Ann, EventUpdate{Start: &moved, End: &movedEnd}); err != nil {
		t.Fatal(err)
	}
	items, _, _ = deltaRoundRaw(t, e.sim, tok, dl)
	var created, cancelled, removed int
	for _, it := range items {
		switch {
		case it["@removed"] != nil:
			removed++
		case it["subject"] == "Kickoff":
			created++
		case it["isCancelled"] == true && strings.HasPrefix(it["subject"].(string), "Canceled: "):
			cancelled++
		}
	}
	// The occurrence moved out of the window: its id and the new exception's come back removed.
	if created != 1 || cancelled != 1 || removed < 1 {
		t.Errorf("bob's changes: created %d cancelled %d removed %d: %v", created, cancelled, removed, items)
	}
	// Ann, the organizer: the cancelled meeting is gone from her calendar.
	annItems, _, annDL := deltaRoundRaw(t, e.sim, tok, "/v1.0/users/"+ids["ann"]+"/calendarView/delta?"+window(calBase, calBase.AddDate(0, 0, 14)))
	for _, it := range annItems {
		if it["id"] == reviewAnn {
			t.Errorf("cancelled meeting still in the organizer's view")
		}
	}
	if err := e.sim.DeleteEvent(tid, ids["ann"], "AAMkAsingle-dentist-000000000000000"); err != nil {
		t.Fatal(err)
	}
	annItems, _, _ = deltaRoundRaw(t, e.sim, tok, annDL)
	if len(annItems) != 1 || annItems[0]["@removed"] == nil || annItems[0]["id"] != "AAMkAsingle-dentist-000000000000000" {
		t.Errorf("after deleting an event: %v", annItems)
	}
}

// The control API changes folders, messages, groups and events over HTTP.
func TestControlAPI_FoldersMessagesGroupsAndEvents(t *testing.T) {
	t.Parallel()
	e, _, ids := calendarSim(t)
	sim, tid := e.sim, e.creds.TenantID
	base := "/tenants/" + tid
	fid := controlCall(t, sim, http.MethodPost, base+"/users/"+ids["ann"]+"/folders", map[string]any{"parent": "inbox", "displayName": "Receipts"}, 200)["id"].(string)
	controlCall(t, sim, http.MethodPatch, base+"/users/"+ids["ann"]+"/folders/"+fid, map[string]any{"displayName": "Bills"}, 200)
	controlCall(t, sim, http.MethodPost, base+"/users/"+ids["ann"]+"/folders/"+fid+"/move", map[string]any{"parent": ""}, 200)
	mid := controlCall(t, sim, http.MethodPost, base+"/users/"+ids["ann"]+"/messages", map[string]any{"subject": "Hi", "folder": "Bills"}, 200)["id"].(string)
	controlCall(t, sim, http.MethodPatch, base+"/users/"+ids["ann"]+"/messages/"+mid, map[string]any{"isRead": true, "categories": []string{"Blue"}}, 200)
	if mb, _ := sim.Mailbox(tid, ids["ann"], fid); len(mb) != 1 || !mb[0].IsRead {
		t.Errorf("mailbox of the new folder = %+v", mb)
	}
	controlCall(t, sim, http.MethodDelete, base+"/users/"+ids["ann"]+"/folders/"+fid, nil, 200)
	controlCall(t, sim, http.MethodDelete, base+"/users/"+ids["ann"]+"/folders/inbox", nil, 400)

	gid := controlCall(t, sim, http.MethodPost, base+"/groups", map[string]any{"displayName": "Team", "kind": "distribution", "members": []string{ids["ann"]}}, 200)["id"].(string)
	controlCall(t, sim, http.MethodPost, base+"/groups/"+gid+"/members/"+ids["bob"], nil, 200)
	controlCall(t, sim, http.MethodDelete, base+"/groups/"+gid+"/members/"+ids["ann"], nil, 200)
	controlCall(t, sim, http.MethodDelete, base+"/groups/"+gid, nil, 200)

	eid := controlCall(t, sim, http.MethodPost, base+"/events", map[string]any{"organizer": "ann@fabrikam.example", "subject": "Sync",
		"start": "2025-03-05T10:00:00Z", "end": "2025-03-05T11:00:00Z", "attendees": []map[string]any{{"address": "bob@fabrikam.example"}}}, 200)["id"].(string)
	controlCall(t, sim, http.MethodPatch, base+"/users/"+ids["ann"]+"/events/"+eid, map[string]any{"subject": "Sync (moved)"}, 200)
	controlCall(t, sim, http.MethodPost, base+"/users/"+ids["ann"]+"/events/"+eid+"/cancel", nil, 200)
	controlCall(t, sim, http.MethodDelete, base+"/users/"+ids["ann"]+"/events/"+eid, nil, 404)
}
