package graphsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// eventsSim: the mail test tenant with an app holding Calendars.ReadWrite;
// ann and bob are tenant users.
func eventsSim(t *testing.T, roles ...string) (*simEnv, string, map[string]string) {
	t.Helper()
	seed, creds := mailSeed(0)
	if len(roles) == 0 {
		roles = []string{"Calendars.ReadWrite", "User.Read.All"}
	}
	seed.Apps[0].GrantedRoles = roles
	sim, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatal(err)
	}
	e := &simEnv{sim: sim, seed: seed, creds: creds}
	return e, rawToken(t, sim, creds.TenantID, creds.ClientID, creds.ClientSecret),
		map[string]string{"ann": seed.Users[1].ID, "bob": seed.Users[2].ID, "big": seed.Users[0].ID}
}

func cwBody(t *testing.T, v any) *strings.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReader(string(b))
}

// lunchEvent is the doc's example 1 request (api/user-post-events.md),
// with a tenant attendee and an external one.
func lunchEvent(txn string) map[string]any {
	ev := map[string]any{
		"subject":  "Let's go for lunch",
		"body":     map[string]any{"contentType": "HTML", "content": "Does noon work for you?"},
		"start":    map[string]any{"dateTime": "2025-04-15T12:00:00", "timeZone": "Pacific Standard Time"},
		"end":      map[string]any{"dateTime": "2025-04-15T14:00:00", "timeZone": "Pacific Standard Time"},
		"location": map[string]any{"displayName": "Harry's Bar"},
		"attendees": []any{
			map[string]any{"emailAddress": map[string]any{"address": "bob@fabrikam.example", "name": "Bob Ray"}, "type": "required"},
			map[string]any{"emailAddress": map[string]any{"address": "samanthab@contoso.example", "name": "Samantha Booth"}, "type": "optional"},
		},
		"allowNewTimeProposals": true,
	}
	if txn != "" {
		ev["transactionId"] = txn
	}
	return ev
}

func cwPost(t *testing.T, sim *Server, path, tok string, v any, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	resp, b := rawDo(t, sim, http.MethodPost, path, tok, cwBody(t, v), append([]string{"Content-Type: application/json"}, headers...)...)
	if len(b) == 0 {
		return resp, nil
	}
	return resp, jsonObject(t, b)
}

func cwPatch(t *testing.T, sim *Server, path, tok string, v any) (*http.Response, map[string]any) {
	t.Helper()
	resp, b := rawDo(t, sim, http.MethodPatch, path, tok, cwBody(t, v), "Content-Type: application/json")
	return resp, jsonObject(t, b)
}

func cwErrCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func cwErrMessage(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["message"].(string)
	return c
}

// calendarItems lists a mailbox's calendarView over April 2025.
func calendarItems(t *testing.T, sim *Server, tok, user string) []map[string]any {
	t.Helper()
	resp, b := rawDo(t, sim, http.MethodGet, "/v1.0/users/"+user+"/calendarView?startDateTime=2025-04-01T00:00:00Z&endDateTime=2025-05-01T00:00:00Z&$top=100", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("calendarView of %s: %d %s", user, resp.StatusCode, b)
	}
	return valueOf(t, b)
}

// (S34) api/user-post-events.md: 201 with the full event in the doc's
// shape; the tenant attendee gets a copy (responseStatus none) that its
// calendarView delta reports.
func TestEvents_CreateReturnsFullEventAndInvitesTenantAttendees(t *testing.T) {
	t.Parallel()
	e, tok, ids := eventsSim(t)
	_, _, bobDL := deltaRoundRaw(t, e.sim, tok, "/v1.0/users/"+ids["bob"]+"/calendarView/delta?startDateTime=2025-04-01T00:00:00Z&endDateTime=2025-05-01T00:00:00Z")

	resp, ev := cwPost(t, e.sim, "/v1.0/users/ann@fabrikam.example/events", tok, lunchEvent(""), `Prefer: outlook.timezone="Pacific Standard Time"`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST events: %d %v", resp.StatusCode, ev)
	}
	if resp.Header.Get("Preference-Applied") != `outlook.timezone="Pacific Standard Time"` {
		t.Errorf("Preference-Applied = %q", resp.Header.Get("Preference-Applied"))
	}
	for _, k := range []string{"@odata.context", "@odata.etag", "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "categories",
		"transactionId", "originalStartTimeZone", "originalEndTimeZone", "iCalUId", "reminderMinutesBeforeStart", "isReminderOn",
		"hasAttachments", "subject", "bodyPreview", "importance", "sensitivity", "isAllDay", "isCancelled", "isOrganizer",
		"responseRequested", "seriesMasterId", "showAs", "type", "webLink", "onlineMeetingUrl", "isOnlineMeeting",
		"onlineMeetingProvider", "allowNewTimeProposals", "isDraft", "hideAttendees", "responseStatus", "body", "start", "end",
		"location", "locations", "recurrence", "attendees", "organizer", "onlineMeeting"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("event lacks %s", k)
		}
	}
	if !strings.HasSuffix(ev["@odata.context"].(string), "/v1.0/$metadata#users('ann@fabrikam.example')/events/$entity") {
		t.Errorf("@odata.context = %v", ev["@odata.context"])
	}
	if ev["type"] != "singleInstance" || ev["isOrganizer"] != true || ev["subject"] != "Let's go for lunch" || ev["transactionId"] != nil ||
		ev["isOnlineMeeting"] != false || ev["onlineMeeting"] != nil || ev["onlineMeetingProvider"] != "unknown" || ev["originalStartTimeZone"] != "Pacific Standard Time" {
		t.Errorf("event = %v", ev)
	}
	if ev["@odata.etag"] != `W/"`+ev["changeKey"].(string)+`"` || !strings.HasPrefix(ev["iCalUId"].(string), "040000008200E00074C5B7101A82E008") {
		t.Errorf("etag %v changeKey %v iCalUId %v", ev["@odata.etag"], ev["changeKey"], ev["iCalUId"])
	}
	if rs := ev["responseStatus"].(map[string]any); rs["response"] != "organizer" || rs["time"] != "0001-01-01T00:00:00Z" {
		t.Errorf("responseStatus = %v", rs)
	}
	if st := ev["start"].(map[string]any); st["dateTime"] != "2025-04-15T12:00:00.0000000" || st["timeZone"] != "Pacific Standard Time" {
		t.Errorf("start = %v", st)
	}
	if b := ev["body"].(map[string]any); b["contentType"] != "html" || b["content"] != "Does noon work for you?" || ev["bodyPreview"] != "Does noon work for you?" {
		t.Errorf("body %v preview %v", b, ev["bodyPreview"])
	}
	att := ev["attendees"].([]any)
	if len(att) != 2 {
		t.Fatalf("attendees = %v", att)
	}
	a0 := att[0].(map[string]any)
	if a0["type"] != "required" || a0["status"].(map[string]any)["response"] != "none" ||
		a0["emailAddress"].(map[string]any)["address"] != "bob@fabrikam.example" || att[1].(map[string]any)["type"] != "optional" {
		t.Errorf("attendees = %v", att)
	}
	if org := ev["organizer"].(map[string]any)["emailAddress"].(map[string]any); org["address"] != "ann@fabrikam.example" || org["name"] != "Ann Lee" {
		t.Errorf("organizer = %v", org)
	}
	if loc := ev["location"].(map[string]any); loc["displayName"] != "Harry's Bar" {
		t.Errorf("location = %v", loc)
	}
	if !strings.HasPrefix(ev["webLink"].(string), "https://outlook.office365.com/owa/?itemid=") {
		t.Errorf("webLink = %v", ev["webLink"])
	}

	// Without Prefer: UTC (S33); GET by id gives the same event.
	resp, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/events/"+ev["id"].(string), tok, nil)
	got := jsonObject(t, b)
	if resp.StatusCode != 200 || got["id"] != ev["id"] || got["start"].(map[string]any)["dateTime"] != "2025-04-15T19:00:00.0000000" || got["start"].(map[string]any)["timeZone"] != "UTC" {
		t.Errorf("GET event: %d %v", resp.StatusCode, got["start"])
	}

	// Bob's copy: same iCalUId, responseStatus none, not the organizer.
	bobItems := calendarItems(t, e.sim, tok, ids["bob"])
	if len(bobItems) != 1 {
		t.Fatalf("bob's calendar: %d events", len(bobItems))
	}
	cp := bobItems[0]
	if cp["iCalUId"] != ev["iCalUId"] || cp["id"] == ev["id"] || cp["isOrganizer"] != false ||
		cp["responseStatus"].(map[string]any)["response"] != "none" || cp["transactionId"] != nil {
		t.Errorf("bob's copy = %v", cp)
	}
	items, _, _ := deltaRoundRaw(t, e.sim, tok, bobDL)
	if len(items) != 1 || items[0]["id"] != cp["id"] || items[0]["subject"] != "Let's go for lunch" {
		t.Errorf("bob's delta after the invitation: %v", items)
	}
	// /events lists it (single events and series masters).
	_, b = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/events?$select=subject", tok, nil)
	if l := valueOf(t, b); len(l) != 1 || l[0]["subject"] != "Let's go for lunch" {
		t.Errorf("GET /events = %v", l)
	}
}

// (S34) A repeat POST with the same transactionId creates nothing.
func TestEvents_TransactionIdPreventsDuplicates(t *testing.T) {
	t.Parallel()
	e, tok, ids := eventsSim(t)
	path := "/v1.0/users/" + ids["ann"] + "/events"
	resp1, ev1 := cwPost(t, e.sim, path, tok, lunchEvent("7E163156-7762-4BEB-A1C6-729EA81755A7"))
	resp2, ev2 := cwPost(t, e.sim, path, tok, lunchEvent("7E163156-7762-4BEB-A1C6-729EA81755A7"))
	if resp1.StatusCode != 201 || resp2.StatusCode != 201 {
		t.Fatalf("POSTs: %d, %d", resp1.StatusCode, resp2.StatusCode)
	}
	if ev1["id"] != ev2["id"] || ev1["transactionId"] != "7E163156-7762-4BEB-A1C6-729EA81755A7" {
		t.Errorf("repeat POST: ids %v and %v, transactionId %v", ev1["id"], ev2["id"], ev1["transactionId"])
	}
	if n := len(calendarItems(t, e.sim, tok, ids["ann"])); n != 1 {
		t.Errorf("ann's calendar holds %d events, want exactly 1", n)
	}
	if n := len(calendarItems(t, e.sim, tok, ids["bob"])); n != 1 {
		t.Errorf("bob's calendar holds %d copies, want exactly 1", n)
	}
	// A different transactionId is a different event.
	resp3, ev3 := cwPost(t, e.sim, path, tok, lunchEvent("other"))
	if resp3.StatusCode != 201 || ev3["id"] == ev1["id"] || len(calendarItems(t, e.sim, tok, ids["ann"])) != 2 {
		t.Errorf("another transactionId: %d %v", resp3.StatusCode, ev3["id"])
	}
	// transactionId cannot be changed.
	resp, body := cwPatch(t, e.sim, path+"/"+ev1["id"].(string), tok, map[string]any{"transactionId": "x"})
	if resp.StatusCode != 400 {
		t.Errorf("PATCH transactionId: %d %v", resp.StatusCode, body)
	}
}

// (S35) isOnlineMeeting with teamsForBusiness gives onlineMeeting.joinUrl.
func TestEvents_OnlineMeetingHasJoinURL(t *testing.T) {
	t.Parallel()
	e, tok, ids := eventsSim(t)
	ev := lunchEvent("")
	ev["isOnlineMeeting"], ev["onlineMeetingProvider"] = true, "teamsForBusiness"
	resp, got := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/calendar/events", tok, ev)
	if resp.StatusCode != 201 {
		t.Fatalf("POST: %d %v", resp.StatusCode, got)
	}
	om, _ := got["onlineMeeting"].(map[string]any)
	if got["isOnlineMeeting"] != true || got["onlineMeetingProvider"] != "teamsForBusiness" || om == nil ||
		!strings.HasPrefix(om["joinUrl"].(string), "https://teams.microsoft.com/l/meetup-join/") {
		t.Errorf("online meeting event: isOnlineMeeting %v provider %v onlineMeeting %v", got["isOnlineMeeting"], got["onlineMeetingProvider"], got["onlineMeeting"])
	}
	// Bob's copy carries the same join URL.
	if items := calendarItems(t, e.sim, tok, ids["bob"]); len(items) != 1 || items[0]["onlineMeeting"].(map[string]any)["joinUrl"] != om["joinUrl"] {
		t.Errorf("bob's copy: %v", items)
	}
}

// /calendar and /calendars/{id}: the one default calendar.
func TestEvents_CalendarRoutesAndPermissions(t *testing.T) {
	t.Parallel()
	e, tok, ids := eventsSim(t)
	resp, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/calendar", tok, nil)
	cal := jsonObject(t, b)
	if resp.StatusCode != 200 || cal["isDefaultCalendar"] != true || cal["name"] != "Calendar" || cal["owner"].(map[string]any)["address"] != "ann@fabrikam.example" {
		t.Fatalf("GET calendar: %d %s", resp.StatusCode, b)
	}
	_, b = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/calendars", tok, nil)
	if l := valueOf(t, b); len(l) != 1 || l[0]["id"] != cal["id"] {
		t.Errorf("GET calendars = %s", b)
	}
	resp, ev := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/calendars/"+cal["id"].(string)+"/events", tok, lunchEvent(""))
	if resp.StatusCode != 201 || ev["subject"] != "Let's go for lunch" {
		t.Errorf("POST calendars/{id}/events: %d %v", resp.StatusCode, ev)
	}
	resp, body := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/calendars/AAMkAnotacalendar0000000000000/events", tok, lunchEvent(""))
	if resp.StatusCode != 404 || cwErrCode(body) != "ErrorItemNotFound" {
		t.Errorf("unknown calendar: %d %v", resp.StatusCode, body)
	}
	_, b = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/calendar/calendarView?startDateTime=2025-04-01T00:00:00Z&endDateTime=2025-05-01T00:00:00Z", tok, nil)
	if l := valueOf(t, b); len(l) != 1 {
		t.Errorf("calendar/calendarView: %s", b)
	}

	// Calendars.Read cannot write (§8): 403 ErrorAccessDenied.
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Calendars.Read"}); err != nil {
		t.Fatal(err)
	}
	ro := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	resp, body = cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events", ro, lunchEvent(""))
	if resp.StatusCode != 403 || cwErrCode(body) != "ErrorAccessDenied" {
		t.Errorf("POST with Calendars.Read: %d %v", resp.StatusCode, body)
	}
	resp, body = cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events/"+ev["id"].(string)+"/cancel", ro, map[string]any{})
	if resp.StatusCode != 403 || cwErrCode(body) != "ErrorAccessDenied" {
		t.Errorf("cancel with Calendars.Read: %d %v", resp.StatusCode, body)
	}
	if n := len(calendarItems(t, e.sim, ro, ids["ann"])); n != 1 {
		t.Errorf("ann's calendar after refused writes: %d events", n)
	}
	// Bad input: unknown property, unknown time zone.
	bad := lunchEvent("")
	bad["colour"] = "red"
	if resp, body := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events", tok, bad); resp.StatusCode != 400 || cwErrCode(body) != "RequestBodyRead" {
		t.Errorf("unknown property: %d %v", resp.StatusCode, body)
	}
	bad = lunchEvent("")
	bad["start"] = map[string]any{"dateTime": "2025-04-15T12:00:00", "timeZone": "Mars Standard Time"}
	if resp, body := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events", tok, bad); resp.StatusCode != 400 || cwErrCode(body) != "TimeZoneNotSupportedException" {
		t.Errorf("unknown time zone: %d %v", resp.StatusCode, body)
	}
}

// api/event-update.md, api/event-delete.md: the organizer's changes reach
// the attendee's copy; an attendee's stay local; deleting a meeting as the
// organizer cancels it for the attendees.
func TestEvents_PatchAndDelete(t *testing.T) {
	t.Parallel()
	e, tok, ids := eventsSim(t)
	_, ev := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events", tok, lunchEvent(""))
	id := ev["id"].(string)
	resp, up := cwPatch(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events/"+id, tok, map[string]any{
		"subject":    "Lunch (moved)",
		"start":      map[string]any{"dateTime": "2025-04-16T12:00:00", "timeZone": "UTC"},
		"end":        map[string]any{"dateTime": "2025-04-16T13:00:00", "timeZone": "UTC"},
		"categories": []string{"Red category"},
		"attendees": []any{
			map[string]any{"emailAddress": map[string]any{"address": "bob@fabrikam.example"}, "type": "required"},
			map[string]any{"emailAddress": map[string]any{"address": "big@fabrikam.example"}, "type": "required"},
		},
	})
	if resp.StatusCode != 200 || up["subject"] != "Lunch (moved)" || up["id"] != id ||
		up["start"].(map[string]any)["dateTime"] != "2025-04-16T12:00:00.0000000" || up["changeKey"] == ev["changeKey"] {
		t.Fatalf("PATCH: %d %v", resp.StatusCode, up)
	}
	if c := up["categories"].([]any); len(c) != 1 || c[0] != "Red category" {
		t.Errorf("categories = %v", c)
	}
	bob := calendarItems(t, e.sim, tok, ids["bob"])
	if len(bob) != 1 || bob[0]["subject"] != "Lunch (moved)" || !strings.HasPrefix(bob[0]["start"].(map[string]any)["dateTime"].(string), "2025-04-16T12:00") ||
		len(bob[0]["categories"].([]any)) != 0 || len(bob[0]["attendees"].([]any)) != 2 {
		t.Errorf("bob's copy after the organizer's update: %v", bob)
	}
	if big := calendarItems(t, e.sim, tok, ids["big"]); len(big) != 1 || big[0]["responseStatus"].(map[string]any)["response"] != "none" {
		t.Errorf("newly invited big: %v", big)
	}
	// An attendee's change stays in its calendar.
	bobID := bob[0]["id"].(string)
	resp, _ = cwPatch(t, e.sim, "/v1.0/users/"+ids["bob"]+"/events/"+bobID, tok, map[string]any{"subject": "my lunch", "showAs": "Free"})
	if resp.StatusCode != 200 {
		t.Fatalf("attendee PATCH: %d", resp.StatusCode)
	}
	if ann := calendarItems(t, e.sim, tok, ids["ann"]); ann[0]["subject"] != "Lunch (moved)" {
		t.Errorf("organizer's event after an attendee's change: %v", ann[0]["subject"])
	}
	if bob := calendarItems(t, e.sim, tok, ids["bob"]); bob[0]["subject"] != "my lunch" || bob[0]["showAs"] != "free" {
		t.Errorf("bob's own change: %v %v", bob[0]["subject"], bob[0]["showAs"])
	}
	// DELETE by the organizer: 204, gone for ann, cancelled for the attendees.
	resp, b := rawDo(t, e.sim, http.MethodDelete, "/v1.0/users/"+ids["ann"]+"/events/"+id, tok, nil)
	if resp.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, b)
	}
	resp, b = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/events/"+id, tok, nil)
	if resp.StatusCode != 404 || cwErrCode(jsonObject(t, b)) != "ErrorItemNotFound" {
		t.Errorf("GET after DELETE: %d %s", resp.StatusCode, b)
	}
	if bob := calendarItems(t, e.sim, tok, ids["bob"]); len(bob) != 1 || bob[0]["isCancelled"] != true {
		t.Errorf("bob's copy after the organizer deleted the meeting: %v", bob)
	}
	// An attendee deleting its copy removes only that.
	resp, _ = rawDo(t, e.sim, http.MethodDelete, "/v1.0/users/"+ids["bob"]+"/events/"+bobID, tok, nil)
	if resp.StatusCode != 204 || len(calendarItems(t, e.sim, tok, ids["bob"])) != 0 || len(calendarItems(t, e.sim, tok, ids["big"])) != 1 {
		t.Errorf("attendee DELETE: %d", resp.StatusCode)
	}
}

// (S36) api/event-accept.md, event-decline.md, event-tentativelyaccept.md,
// event-cancel.md.
func TestEvents_ResponsesAndCancel(t *testing.T) {
	t.Parallel()
	e, tok, ids := eventsSim(t)
	_, ev := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events", tok, lunchEvent(""))
	annID := ev["id"].(string)
	bobID := calendarItems(t, e.sim, tok, ids["bob"])[0]["id"].(string)
	_, big := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events", tok, map[string]any{
		"subject": "Review", "start": map[string]any{"dateTime": "2025-04-17T09:00:00", "timeZone": "UTC"},
		"end":       map[string]any{"dateTime": "2025-04-17T10:00:00", "timeZone": "UTC"},
		"attendees": []any{map[string]any{"emailAddress": map[string]any{"address": "big@fabrikam.example"}}},
	})
	bigID := calendarItems(t, e.sim, tok, ids["big"])[0]["id"].(string)
	bobStatusAtAnn := func() string {
		_, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/events/"+annID, tok, nil)
		for _, a := range jsonObject(t, b)["attendees"].([]any) {
			am := a.(map[string]any)
			if am["emailAddress"].(map[string]any)["address"] == "bob@fabrikam.example" {
				return am["status"].(map[string]any)["response"].(string)
			}
		}
		return ""
	}
	own := func(user, id string) map[string]any {
		_, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+user+"/events/"+id, tok, nil)
		return jsonObject(t, b)["responseStatus"].(map[string]any)
	}
	for _, c := range []struct{ action, want string }{{"tentativelyAccept", "tentativelyAccepted"}, {"accept", "accepted"}, {"decline", "declined"}} {
		resp, b := rawDo(t, e.sim, http.MethodPost, "/v1.0/users/"+ids["bob"]+"/events/"+bobID+"/"+c.action, tok,
			cwBody(t, map[string]any{"comment": "ok", "sendResponse": true}), "Content-Type: application/json")
		if resp.StatusCode != http.StatusAccepted || len(b) != 0 {
			t.Fatalf("%s: %d %s", c.action, resp.StatusCode, b)
		}
		if rs := own(ids["bob"], bobID); rs["response"] != c.want || rs["time"] == "0001-01-01T00:00:00Z" {
			t.Errorf("after %s bob's responseStatus = %v", c.action, rs)
		}
		if got := bobStatusAtAnn(); got != c.want {
			t.Errorf("after %s the organizer sees bob %q", c.action, got)
		}
	}
	// sendResponse false: the organizer is not told.
	resp, _ := cwPost(t, e.sim, "/v1.0/users/"+ids["big"]+"/events/"+bigID+"/accept", tok, map[string]any{"SendResponse": false})
	if resp.StatusCode != 202 || own(ids["big"], bigID)["response"] != "accepted" {
		t.Errorf("accept without response: %d", resp.StatusCode)
	}
	_, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/events/"+big["id"].(string), tok, nil)
	if st := jsonObject(t, b)["attendees"].([]any)[0].(map[string]any)["status"].(map[string]any)["response"]; st != "none" {
		t.Errorf("organizer's view after sendResponse false: %v", st)
	}
	// proposedNewTime needs sendResponse.
	resp, body := cwPost(t, e.sim, "/v1.0/users/"+ids["bob"]+"/events/"+bobID+"/decline", tok, map[string]any{"sendResponse": false,
		"proposedNewTime": map[string]any{"start": map[string]any{"dateTime": "2025-04-18T12:00:00", "timeZone": "UTC"}, "end": map[string]any{"dateTime": "2025-04-18T13:00:00", "timeZone": "UTC"}}})
	if resp.StatusCode != 400 {
		t.Errorf("decline proposing a time without a response: %d %v", resp.StatusCode, body)
	}
	// The organizer cannot respond; an attendee cannot cancel.
	if resp, body := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events/"+annID+"/accept", tok, map[string]any{}); resp.StatusCode != 400 {
		t.Errorf("organizer accepting: %d %v", resp.StatusCode, body)
	}
	resp, body = cwPost(t, e.sim, "/v1.0/users/"+ids["bob"]+"/events/"+bobID+"/cancel", tok, map[string]any{"Comment": "no"})
	if resp.StatusCode != 400 || cwErrMessage(body) != "Your request can't be completed. You need to be an organizer to cancel a meeting." {
		t.Errorf("attendee cancelling: %d %v", resp.StatusCode, body)
	}
	resp, _ = cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events/"+annID+"/cancel", tok, map[string]any{"Comment": "Cancelling for this week due to all hands"})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("organizer cancelling: %d", resp.StatusCode)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/events/"+annID, tok, nil); resp.StatusCode != 404 {
		t.Errorf("cancelled meeting still in the organizer's calendar: %d", resp.StatusCode)
	}
	_, b = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["bob"]+"/events/"+bobID, tok, nil)
	if cp := jsonObject(t, b); cp["isCancelled"] != true || cp["subject"] != "Canceled: Let's go for lunch" {
		t.Errorf("bob's copy after cancel: %v %v", cp["isCancelled"], cp["subject"])
	}
	if resp, _ := cwPost(t, e.sim, "/v1.0/users/"+ids["bob"]+"/events/AAMkAnoSuchEvent000000000000/accept", tok, map[string]any{}); resp.StatusCode != 404 {
		t.Errorf("accepting an unknown event: %d", resp.StatusCode)
	}
}

// (S34, S36) Through msgraph-sdk-go: create with a transactionId twice,
// then the attendee accepts.
func TestEvents_SDKCreateWithTransactionIDAndAccept(t *testing.T) {
	e, _, ids := eventsSim(t)
	client, _ := e.demoClient(t)
	ctx := ctxT(t)
	newEvent := func() models.Eventable {
		ev := models.NewEvent()
		ev.SetSubject(cwPtr("Planning"))
		ev.SetTransactionId(cwPtr("sdk-txn-1"))
		st, en := models.NewDateTimeTimeZone(), models.NewDateTimeTimeZone()
		st.SetDateTime(cwPtr("2025-04-22T15:00:00"))
		st.SetTimeZone(cwPtr("UTC"))
		en.SetDateTime(cwPtr("2025-04-22T16:00:00"))
		en.SetTimeZone(cwPtr("UTC"))
		ev.SetStart(st)
		ev.SetEnd(en)
		ea := models.NewEmailAddress()
		ea.SetAddress(cwPtr("bob@fabrikam.example"))
		a := models.NewAttendee()
		a.SetEmailAddress(ea)
		typ := models.REQUIRED_ATTENDEETYPE
		a.SetTypeEscaped(&typ)
		ev.SetAttendees([]models.Attendeeable{a})
		ev.SetIsOnlineMeeting(cwPtr(true))
		prov := models.TEAMSFORBUSINESS_ONLINEMEETINGPROVIDERTYPE
		ev.SetOnlineMeetingProvider(&prov)
		return ev
	}
	first, err := client.Users().ByUserId(ids["ann"]).Events().Post(ctx, newEvent(), nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := client.Users().ByUserId(ids["ann"]).Events().Post(ctx, newEvent(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if deref(first.GetId()) == "" || deref(first.GetId()) != deref(second.GetId()) || deref(first.GetTransactionId()) != "sdk-txn-1" {
		t.Fatalf("ids %q %q transactionId %q", deref(first.GetId()), deref(second.GetId()), deref(first.GetTransactionId()))
	}
	if first.GetOnlineMeeting() == nil || !strings.HasPrefix(deref(first.GetOnlineMeeting().GetJoinUrl()), "https://teams.microsoft.com/") {
		t.Errorf("onlineMeeting = %v", first.GetOnlineMeeting())
	}
	if rs := first.GetResponseStatus(); rs == nil || rs.GetResponse() == nil || *rs.GetResponse() != models.ORGANIZER_RESPONSETYPE {
		t.Errorf("responseStatus = %v", rs)
	}
	from, to := "2025-04-01T00:00:00Z", "2025-05-01T00:00:00Z"
	view, err := client.Users().ByUserId(ids["ann"]).CalendarView().Get(ctx, &users.ItemCalendarViewRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemCalendarViewRequestBuilderGetQueryParameters{StartDateTime: &from, EndDateTime: &to}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(view.GetValue()); n != 1 {
		t.Fatalf("ann's calendar holds %d events after two POSTs with one transactionId", n)
	}
	bobView, err := client.Users().ByUserId(ids["bob"]).CalendarView().Get(ctx, &users.ItemCalendarViewRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemCalendarViewRequestBuilderGetQueryParameters{StartDateTime: &from, EndDateTime: &to}})
	if err != nil || len(bobView.GetValue()) != 1 {
		t.Fatalf("bob's calendar: %v %v", err, bobView)
	}
	bobEventID := deref(bobView.GetValue()[0].GetId())
	body := users.NewItemEventsItemAcceptPostRequestBody()
	body.SetComment(cwPtr("See you there"))
	body.SetSendResponse(cwPtr(true))
	if err := client.Users().ByUserId(ids["bob"]).Events().ByEventId(bobEventID).Accept().Post(ctx, body, nil); err != nil {
		t.Fatalf("accept: %v", err)
	}
	got, err := client.Users().ByUserId(ids["bob"]).Events().ByEventId(bobEventID).Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *got.GetResponseStatus().GetResponse() != models.ACCEPTED_RESPONSETYPE {
		t.Errorf("bob's responseStatus = %v", got.GetResponseStatus().GetResponse().String())
	}
	org, err := client.Users().ByUserId(ids["ann"]).Events().ByEventId(deref(first.GetId())).Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := org.GetAttendees()[0].GetStatus(); st == nil || *st.GetResponse() != models.ACCEPTED_RESPONSETYPE {
		t.Errorf("organizer's attendee status = %v", st)
	}
	// Cancel as an attendee through the SDK: an ODataError 400.
	err = client.Users().ByUserId(ids["bob"]).Events().ByEventId(bobEventID).Cancel().Post(ctx, users.NewItemEventsItemCancelPostRequestBody(), nil)
	if status, code, _, _ := odataError(t, err); status != 400 || code != "ErrorInvalidRequest" {
		t.Errorf("attendee cancel: %d %s", status, code)
	}
}

func cwPtr[T any](v T) *T { return &v }

// A series created over Graph expands into occurrences (endDate range).
func TestEvents_CreateRecurringSeries(t *testing.T) {
	t.Parallel()
	e, tok, ids := eventsSim(t)
	resp, ev := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events", tok, map[string]any{
		"subject": "Standup",
		"start":   map[string]any{"dateTime": "2025-04-07T09:00:00", "timeZone": "UTC"},
		"end":     map[string]any{"dateTime": "2025-04-07T09:15:00", "timeZone": "UTC"},
		"recurrence": map[string]any{
			"pattern": map[string]any{"type": "weekly", "interval": 1, "daysOfWeek": []string{"Monday", "Wednesday"}},
			"range":   map[string]any{"type": "endDate", "startDate": "2025-04-07", "endDate": "2025-04-16"},
		},
	})
	if resp.StatusCode != 201 || ev["type"] != "seriesMaster" || ev["recurrence"] == nil {
		t.Fatalf("POST series: %d %v", resp.StatusCode, ev)
	}
	items := calendarItems(t, e.sim, tok, ids["ann"])
	if len(items) != 4 { // 7, 9, 14 and 16 April
		t.Errorf("occurrences = %d, want 4", len(items))
	}
	for _, it := range items {
		if it["type"] != "occurrence" || it["seriesMasterId"] != ev["id"] {
			t.Errorf("occurrence = %v", it)
		}
	}
	resp, body := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/events", tok, map[string]any{
		"subject": "Monthly", "start": map[string]any{"dateTime": "2025-04-07T09:00:00", "timeZone": "UTC"},
		"end":        map[string]any{"dateTime": "2025-04-07T10:00:00", "timeZone": "UTC"},
		"recurrence": map[string]any{"pattern": map[string]any{"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 7}, "range": map[string]any{"type": "noEnd"}},
	})
	if resp.StatusCode != 501 {
		t.Errorf("monthly recurrence: %d %v", resp.StatusCode, body)
	}
}
