package graphsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/teams"
)

// collabSim: the mail test tenant with the given app roles and extra
// seeded events.
func collabSim(t *testing.T, roles []string, events ...EventSeed) (*simEnv, string, map[string]string) {
	t.Helper()
	seed, creds := mailSeed(0)
	seed.Apps[0].GrantedRoles = roles
	seed.Events = events
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

func slotStart(s map[string]any) string {
	return s["meetingTimeSlot"].(map[string]any)["start"].(map[string]any)["dateTime"].(string)
}

// (S37) api/user-findmeetingtimes.md: delegated only; suggestions from
// the attendees' simulated free/busy, ordered by confidence, then time.
func TestFindMeetingTimes_DelegatedSuggestionsAndAppOnly403(t *testing.T) {
	t.Parallel()
	day := time.Date(2025, 4, 15, 0, 0, 0, 0, time.UTC) // a Tuesday
	e, appTok, ids := collabSim(t, []string{"Calendars.Read"},
		EventSeed{Organizer: "bob@fabrikam.example", Subject: "Busy", Start: day.Add(10 * time.Hour), End: day.Add(11 * time.Hour)},
		EventSeed{Organizer: "ann@fabrikam.example", Subject: "Ann's own", Start: day.Add(13 * time.Hour), End: day.Add(14 * time.Hour)},
		EventSeed{Organizer: "bob@fabrikam.example", Subject: "Free block", Start: day.Add(11 * time.Hour), End: day.Add(12 * time.Hour), ShowAs: "free"},
	)
	tok := mintDelegatedToken(t, e.sim, e.creds.TenantID, ids["ann"], "Calendars.Read User.Read")
	req := func(from, to string, extra map[string]any) map[string]any {
		body := map[string]any{
			"attendees": []any{
				map[string]any{"type": "required", "emailAddress": map[string]any{"address": "bob@fabrikam.example"}},
				map[string]any{"type": "required", "emailAddress": map[string]any{"address": "guest@contoso.example"}},
			},
			"timeConstraint": map[string]any{"activityDomain": "work", "timeSlots": []any{map[string]any{
				"start": map[string]any{"dateTime": from, "timeZone": "UTC"}, "end": map[string]any{"dateTime": to, "timeZone": "UTC"}}}},
			"meetingDuration":         "PT1H",
			"returnSuggestionReasons": "true",
			"locationConstraint":      map[string]any{"isRequired": false, "suggestLocation": false, "locations": []any{map[string]any{"displayName": "Conf room Hood"}}},
		}
		for k, v := range extra {
			body[k] = v
		}
		return body
	}
	resp, res := cwPost(t, e.sim, "/v1.0/me/findMeetingTimes", tok, req("2025-04-15T09:00:00", "2025-04-15T12:00:00", nil))
	if resp.StatusCode != 200 {
		t.Fatalf("findMeetingTimes: %d %v", resp.StatusCode, res)
	}
	if res["emptySuggestionsReason"] != "" || !strings.HasSuffix(res["@odata.context"].(string), "$metadata#microsoft.graph.meetingTimeSuggestionsResult") {
		t.Errorf("result = %v", res)
	}
	sugg := res["meetingTimeSuggestions"].([]any)
	// Bob is busy 10-11 (09:30, 10:00 and 10:30 overlap it), the guest is
	// unknown: free slots score (100+49)/2 = 74.5, the rest fall below 50.
	if len(sugg) != 2 {
		t.Fatalf("suggestions = %v", sugg)
	}
	first := sugg[0].(map[string]any)
	if slotStart(first) != "2025-04-15T09:00:00.0000000" || slotStart(sugg[1].(map[string]any)) != "2025-04-15T11:00:00.0000000" ||
		first["confidence"] != 74.5 || first["order"] != float64(1) || first["organizerAvailability"] != "free" ||
		first["suggestionReason"] == nil || first["locations"].([]any)[0].(map[string]any)["displayName"] != "Conf room Hood" {
		t.Errorf("first suggestion = %v, second %v", first, sugg[1])
	}
	av := first["attendeeAvailability"].([]any)
	if av[0].(map[string]any)["availability"] != "free" || av[1].(map[string]any)["availability"] != "unknown" {
		t.Errorf("attendeeAvailability = %v", av)
	}
	// minimumAttendeePercentage 0: every slot, by confidence then time.
	_, res = cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/findMeetingTimes", tok, req("2025-04-15T09:00:00", "2025-04-15T12:00:00", map[string]any{"minimumAttendeePercentage": 0, "maxCandidates": 10}))
	var got []string
	var conf []float64
	for _, s := range res["meetingTimeSuggestions"].([]any) {
		got = append(got, slotStart(s.(map[string]any))[11:16])
		conf = append(conf, s.(map[string]any)["confidence"].(float64))
	}
	if strings.Join(got, ",") != "09:00,11:00,09:30,10:00,10:30" || conf[0] != 74.5 || conf[2] != 24.5 {
		t.Errorf("all slots: %v confidences %v", got, conf)
	}
	if busy := res["meetingTimeSuggestions"].([]any)[2].(map[string]any)["attendeeAvailability"].([]any)[0].(map[string]any)["availability"]; busy != "busy" {
		t.Errorf("bob at 09:30 = %v", busy)
	}
	// The organizer's own busy time is skipped; Prefer renders in the zone.
	body := req("2025-04-15T12:00:00", "2025-04-15T15:00:00", nil)
	body["attendees"] = []any{}
	resp, res = cwPost(t, e.sim, "/v1.0/me/findMeetingTimes", tok, body, `Prefer: outlook.timezone="Pacific Standard Time"`)
	got = nil
	for _, s := range res["meetingTimeSuggestions"].([]any) {
		got = append(got, slotStart(s.(map[string]any))[11:16])
	}
	if strings.Join(got, ",") != "05:00,07:00" || resp.Header.Get("Preference-Applied") != `outlook.timezone="Pacific Standard Time"` {
		t.Errorf("organizer-only slots in PDT: %v (%q)", got, resp.Header.Get("Preference-Applied"))
	}
	_, res = cwPost(t, e.sim, "/v1.0/me/findMeetingTimes", tok, req("2025-04-15T13:00:00", "2025-04-15T14:00:00", nil))
	if res["emptySuggestionsReason"] != "organizerUnavailable" || len(res["meetingTimeSuggestions"].([]any)) != 0 {
		t.Errorf("organizer busy: %v", res)
	}
	// Outside working hours (08:00-17:00 Mon-Fri) nothing is suggested for work.
	_, res = cwPost(t, e.sim, "/v1.0/me/findMeetingTimes", tok, req("2025-04-19T09:00:00", "2025-04-19T12:00:00", nil))
	if len(res["meetingTimeSuggestions"].([]any)) != 0 {
		t.Errorf("a Saturday for work: %v", res)
	}
	// App-only tokens are not supported (§8); nor is another user's mailbox.
	resp, res = cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/findMeetingTimes", appTok, req("2025-04-15T09:00:00", "2025-04-15T12:00:00", nil))
	if resp.StatusCode != 403 || cwErrCode(res) != "ErrorAccessDenied" {
		t.Errorf("app-only: %d %v", resp.StatusCode, res)
	}
	resp, res = cwPost(t, e.sim, "/v1.0/users/"+ids["bob"]+"/findMeetingTimes", tok, req("2025-04-15T09:00:00", "2025-04-15T12:00:00", nil))
	if resp.StatusCode != 403 {
		t.Errorf("another user's findMeetingTimes: %d %v", resp.StatusCode, res)
	}
	noCal := mintDelegatedToken(t, e.sim, e.creds.TenantID, ids["ann"], "User.Read Mail.Read")
	if resp, res := cwPost(t, e.sim, "/v1.0/me/findMeetingTimes", noCal, req("2025-04-15T09:00:00", "2025-04-15T12:00:00", nil)); resp.StatusCode != 403 || cwErrCode(res) != "ErrorAccessDenied" {
		t.Errorf("without Calendars.Read: %d %v", resp.StatusCode, res)
	}
}

// (S38) api/application-post-onlinemeetings.md, onlinemeeting-createorget.md
// and the application access policy.
func TestOnlineMeetings_CreatePolicyAndCreateOrGet(t *testing.T) {
	t.Parallel()
	e, tok, ids := collabSim(t, []string{"OnlineMeetings.ReadWrite.All", "User.Read.All"})
	tid, cid := e.creds.TenantID, e.creds.ClientID
	meeting := map[string]any{"startDateTime": "2025-07-12T14:30:34.2444915-07:00", "endDateTime": "2025-07-12T15:00:34.2464912-07:00", "subject": "User Token Meeting"}
	resp, res := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/onlineMeetings", tok, meeting)
	if resp.StatusCode != 403 || cwErrCode(res) != "Forbidden" || cwErrMessage(res) != "No Application Access Policy found for this app" {
		t.Fatalf("without a policy: %d %v", resp.StatusCode, res)
	}
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/apps/"+cid+"/online-meeting-policy", map[string]any{"user": "ann@fabrikam.example"}, 200)
	resp, res = cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/onlineMeetings", tok, meeting)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("with a policy: %d %v", resp.StatusCode, res)
	}
	org := res["participants"].(map[string]any)["organizer"].(map[string]any)
	if res["subject"] != "User Token Meeting" || res["startDateTime"] != "2025-07-12T21:30:34.2444915Z" || res["endDateTime"] != "2025-07-12T22:00:34.2464912Z" ||
		!strings.HasPrefix(res["joinWebUrl"].(string), "https://teams.microsoft.com/l/meetup-join/19%3Ameeting_") || res["id"] == "" ||
		!strings.HasPrefix(res["chatInfo"].(map[string]any)["threadId"].(string), "19:meeting_") ||
		org["identity"].(map[string]any)["user"].(map[string]any)["id"] != ids["ann"] || org["upn"] != "ann@fabrikam.example" ||
		!strings.HasSuffix(res["@odata.context"].(string), "#users('"+ids["ann"]+"')/onlineMeetings/$entity") {
		t.Errorf("meeting = %v", res)
	}
	if _, hasJoin := res["joinMeetingIdSettings"].(map[string]any)["joinMeetingId"]; !hasJoin {
		t.Errorf("joinMeetingIdSettings = %v", res["joinMeetingIdSettings"])
	}
	resp, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/onlineMeetings/"+res["id"].(string), tok, nil)
	if resp.StatusCode != 200 || jsonObject(t, b)["joinWebUrl"] != res["joinWebUrl"] {
		t.Errorf("GET meeting: %d %s", resp.StatusCode, b)
	}
	// The meeting is not on the calendar.
	if err := e.sim.SetGrantedRoles(tid, cid, []string{"OnlineMeetings.ReadWrite.All", "Calendars.Read"}); err != nil {
		t.Fatal(err)
	}
	tok = rawToken(t, e.sim, tid, cid, e.creds.ClientSecret)
	_, b = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/calendarView?startDateTime=2025-07-01T00:00:00Z&endDateTime=2025-08-01T00:00:00Z", tok, nil)
	if len(valueOf(t, b)) != 0 {
		t.Errorf("online meeting shows on the calendar: %s", b)
	}
	// Bob has no policy yet; a tenant-wide grant covers him.
	if resp, res := cwPost(t, e.sim, "/v1.0/users/"+ids["bob"]+"/onlineMeetings", tok, meeting); resp.StatusCode != 403 || cwErrMessage(res) != "No Application Access Policy found for this app" {
		t.Errorf("bob without a policy: %d %v", resp.StatusCode, res)
	}
	if err := e.sim.GrantOnlineMeetingPolicy(tid, cid, ""); err != nil {
		t.Fatal(err)
	}
	// createOrGet: 201 the first time, 200 and the same meeting after.
	cog := map[string]any{"subject": "Create a meeting with customId provided", "externalId": "7eb8263f-d0e0-4149-bb1c-1f0476083c56"}
	resp1, m1 := cwPost(t, e.sim, "/v1.0/users/"+ids["bob"]+"/onlineMeetings/createOrGet", tok, cog)
	resp2, m2 := cwPost(t, e.sim, "/v1.0/users/"+ids["bob"]+"/onlineMeetings/createOrGet", tok, cog)
	if resp1.StatusCode != 201 || resp2.StatusCode != 200 || m1["id"] != m2["id"] || m1["externalId"] != "7eb8263f-d0e0-4149-bb1c-1f0476083c56" {
		t.Errorf("createOrGet: %d %d ids %v %v", resp1.StatusCode, resp2.StatusCode, m1["id"], m2["id"])
	}
	st, _ := time.Parse(time.RFC3339Nano, m1["startDateTime"].(string))
	en, _ := time.Parse(time.RFC3339Nano, m1["endDateTime"].(string))
	if en.Sub(st) != time.Hour || time.Since(st) > time.Minute {
		t.Errorf("default times: %v %v", m1["startDateTime"], m1["endDateTime"])
	}
	resp3, m3 := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/onlineMeetings/createOrGet", tok, cog)
	if resp3.StatusCode != 201 || m3["id"] == m1["id"] {
		t.Errorf("same externalId for another user: %d %v", resp3.StatusCode, m3["id"])
	}
	if resp, _ := cwPost(t, e.sim, "/v1.0/users/"+ids["bob"]+"/onlineMeetings/createOrGet", tok, map[string]any{"subject": "x"}); resp.StatusCode != 400 {
		t.Errorf("createOrGet without externalId: %d", resp.StatusCode)
	}
	if resp, _ := cwPost(t, e.sim, "/v1.0/users/"+ids["bob"]+"/onlineMeetings", tok, map[string]any{"endDateTime": "2025-07-12T15:00:00Z"}); resp.StatusCode != 400 {
		t.Errorf("endDateTime without startDateTime: %d", resp.StatusCode)
	}
	if ms, _ := e.sim.OnlineMeetings(tid, ids["bob"]); len(ms) != 1 || ms[0].ExternalID != "7eb8263f-d0e0-4149-bb1c-1f0476083c56" {
		t.Errorf("bob's meetings = %+v", ms)
	}
	if ms, _ := e.sim.OnlineMeetings(tid, ids["ann"]); len(ms) != 2 {
		t.Errorf("ann's meetings = %+v", ms)
	}
	// Revoking both grants blocks ann again.
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/apps/"+cid+"/online-meeting-policy/revoke", map[string]any{"user": "ann@fabrikam.example"}, 200)
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/apps/"+cid+"/online-meeting-policy/revoke", map[string]any{}, 200)
	if resp, _ := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/onlineMeetings", tok, meeting); resp.StatusCode != 403 {
		t.Errorf("after revoking: %d", resp.StatusCode)
	}
	out := controlCall(t, e.sim, http.MethodGet, "/tenants/"+tid+"/users/ann@fabrikam.example/online-meetings", nil, 200)
	if len(out["value"].([]any)) != 2 {
		t.Errorf("control online-meetings = %v", out)
	}
	// Without OnlineMeetings.ReadWrite.All: 403 Forbidden, even with a policy.
	if err := e.sim.SetGrantedRoles(tid, cid, []string{"User.Read.All"}); err != nil {
		t.Fatal(err)
	}
	_ = e.sim.GrantOnlineMeetingPolicy(tid, cid, "")
	noRole := rawToken(t, e.sim, tid, cid, e.creds.ClientSecret)
	if resp, res := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/onlineMeetings", noRole, meeting); resp.StatusCode != 403 ||
		!strings.Contains(cwErrMessage(res), "API requires one of 'OnlineMeetings.ReadWrite.All'") {
		t.Errorf("without the role: %d %v", resp.StatusCode, res)
	}
	// Delegated: OnlineMeetings.ReadWrite, no policy involved, own meetings only.
	del := mintDelegatedToken(t, e.sim, tid, ids["bob"], "OnlineMeetings.ReadWrite User.Read")
	if resp, res := cwPost(t, e.sim, "/v1.0/me/onlineMeetings", del, meeting); resp.StatusCode != 201 ||
		res["participants"].(map[string]any)["organizer"].(map[string]any)["identity"].(map[string]any)["user"].(map[string]any)["id"] != ids["bob"] {
		t.Errorf("delegated /me: %d %v", resp.StatusCode, res)
	}
	if resp, _ := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/onlineMeetings", del, meeting); resp.StatusCode != 403 {
		t.Errorf("delegated for another user: %d", resp.StatusCode)
	}
}

// teamsSim: a team "Launch" (owner ann, member bob) with an extra channel.
func teamsSim(t *testing.T, roles ...string) (*simEnv, TeamInfo, map[string]string) {
	t.Helper()
	e, _, ids := collabSim(t, append([]string{"User.Read.All"}, roles...))
	info, err := e.sim.CreateTeam(e.creds.TenantID, TeamSeed{DisplayName: "Launch", Owners: []string{"ann@fabrikam.example"},
		Members: []string{ids["bob"]}, Channels: []ChannelSeed{{DisplayName: "Announcements", Description: "News"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Channels) != 2 || info.Channels[0].DisplayName != "General" || !strings.HasPrefix(info.Channels[1].ID, "19:") ||
		!strings.HasSuffix(info.Channels[1].ID, "@thread.tacv2") {
		t.Fatalf("team = %+v", info)
	}
	return e, info, ids
}

// api/channel-post-messages.md through msgraph-sdk-go with a delegated
// token; the Go accessor and the list (newest first, paged) show it.
func TestTeams_SDKPostChannelMessageAndList(t *testing.T) {
	e, info, ids := teamsSim(t)
	ch := info.Channels[1].ID
	annTok := mintDelegatedToken(t, e.sim, e.creds.TenantID, ids["ann"], "ChannelMessage.Send ChannelMessage.Read.All User.Read")
	client := newStaticTokenClient(t, e.sim, annTok)
	msg := models.NewChatMessage()
	body := models.NewItemBody()
	body.SetContent(cwPtr("<b>Launch</b> is on Friday"))
	html := models.HTML_BODYTYPE
	body.SetContentType(&html)
	msg.SetBody(body)
	msg.SetSubject(cwPtr("Launch date"))
	got, err := client.Teams().ByTeamId(info.ID).Channels().ByChannelId(ch).Messages().Post(ctxT(t), msg, nil)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	if deref(got.GetId()) == "" || deref(got.GetSubject()) != "Launch date" || got.GetFrom() == nil || got.GetFrom().GetUser() == nil ||
		deref(got.GetFrom().GetUser().GetId()) != ids["ann"] || deref(got.GetFrom().GetUser().GetDisplayName()) != "Ann Lee" ||
		deref(got.GetBody().GetContent()) != "<b>Launch</b> is on Friday" || *got.GetBody().GetContentType() != models.HTML_BODYTYPE ||
		got.GetCreatedDateTime() == nil || !strings.HasPrefix(deref(got.GetWebUrl()), "https://teams.microsoft.com/l/message/"+url.QueryEscape(ch)+"/") {
		t.Errorf("posted message: id %q subject %q webUrl %q", deref(got.GetId()), deref(got.GetSubject()), deref(got.GetWebUrl()))
	}
	msgs, err := e.sim.ChannelMessages(e.creds.TenantID, info.ID, "Announcements")
	if err != nil || len(msgs) != 1 || msgs[0].ID != deref(got.GetId()) || msgs[0].FromUserID != ids["ann"] ||
		msgs[0].Content != "<b>Launch</b> is on Friday" || msgs[0].ContentType != "html" || msgs[0].Subject != "Launch date" {
		t.Fatalf("ChannelMessages = %+v, %v", msgs, err)
	}
	// Bob posts twice (raw); the list is newest first, $top pages.
	bobTok := mintDelegatedToken(t, e.sim, e.creds.TenantID, ids["bob"], "ChannelMessage.Send")
	for _, text := range []string{"first from bob", "second from bob"} {
		resp, res := cwPost(t, e.sim, "/v1.0/teams/"+info.ID+"/channels/"+url.PathEscape(ch)+"/messages", bobTok, map[string]any{"body": map[string]any{"content": text}})
		if resp.StatusCode != 201 || res["body"].(map[string]any)["contentType"] != "text" || res["from"].(map[string]any)["user"].(map[string]any)["id"] != ids["bob"] {
			t.Fatalf("bob's post: %d %v", resp.StatusCode, res)
		}
	}
	top := int32(2)
	page, err := client.Teams().ByTeamId(info.ID).Channels().ByChannelId(ch).Messages().Get(ctxT(t), &teams.ItemChannelsItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &teams.ItemChannelsItemMessagesRequestBuilderGetQueryParameters{Top: &top}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.GetValue()) != 2 || deref(page.GetValue()[0].GetBody().GetContent()) != "second from bob" || page.GetOdataNextLink() == nil {
		t.Fatalf("first page: %d items, nextLink %v", len(page.GetValue()), page.GetOdataNextLink())
	}
	resp, b := rawDo(t, e.sim, http.MethodGet, *page.GetOdataNextLink(), annTok, nil)
	rest := valueOf(t, b)
	if resp.StatusCode != 200 || len(rest) != 1 || rest[0]["id"] != deref(got.GetId()) || jsonObject(t, b)["@odata.nextLink"] != nil {
		t.Errorf("second page: %d %s", resp.StatusCode, b)
	}
	resp, b = rawDo(t, e.sim, http.MethodGet, "/v1.0/teams/"+info.ID+"/channels/"+url.PathEscape(ch)+"/messages", annTok, nil)
	if l := valueOf(t, b); resp.StatusCode != 200 || len(l) != 3 || l[2]["subject"] != "Launch date" {
		t.Errorf("default page: %d %d items", resp.StatusCode, len(l))
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/teams/"+info.ID+"/channels/"+url.PathEscape(ch)+"/messages?$top=51", annTok, nil); resp.StatusCode != 400 {
		t.Errorf("$top=51: %d", resp.StatusCode)
	}
	if msgs, _ := e.sim.ChannelMessages(e.creds.TenantID, info.ID, ch); len(msgs) != 3 || msgs[0].Content != "second from bob" {
		t.Errorf("ChannelMessages after three posts = %+v", msgs)
	}
	if general, _ := e.sim.ChannelMessages(e.creds.TenantID, info.ID, "General"); len(general) != 0 {
		t.Errorf("General got messages: %+v", general)
	}
}

// §8: posting is delegated only (app-only is migration-only), needs
// ChannelMessage.Send and team membership.
func TestTeams_PostPermissions(t *testing.T) {
	t.Parallel()
	e, info, ids := teamsSim(t)
	path := "/v1.0/teams/" + info.ID + "/channels/" + url.PathEscape(info.Channels[0].ID) + "/messages"
	hello := map[string]any{"body": map[string]any{"content": "Hello World"}}
	appTok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	resp, res := cwPost(t, e.sim, path, appTok, hello)
	if resp.StatusCode != 403 || cwErrCode(res) != "Forbidden" ||
		cwErrMessage(res) != "Missing role permissions on the request. API requires one of 'Teamwork.Migrate.All'. Roles on the request 'User.Read.All'." {
		t.Errorf("app-only: %d %v", resp.StatusCode, res)
	}
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Teamwork.Migrate.All", "ChannelMessage.Read.All"}); err != nil {
		t.Fatal(err)
	}
	migTok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	resp, res = cwPost(t, e.sim, path, migTok, hello)
	if resp.StatusCode != 401 || cwErrCode(res) != "Unauthorized" || !strings.HasPrefix(cwErrMessage(res), "Message POST is allowed in application-only context only for import purposes.") {
		t.Errorf("app-only with Teamwork.Migrate.All outside migration: %d %v", resp.StatusCode, res)
	}
	// Reading app-only with ChannelMessage.Read.All is allowed.
	if resp, b := rawDo(t, e.sim, http.MethodGet, path, migTok, nil); resp.StatusCode != 200 || len(valueOf(t, b)) != 0 {
		t.Errorf("app-only list: %d %s", resp.StatusCode, b)
	}
	noScope := mintDelegatedToken(t, e.sim, e.creds.TenantID, ids["ann"], "User.Read Mail.Read")
	resp, res = cwPost(t, e.sim, path, noScope, hello)
	if resp.StatusCode != 403 || cwErrMessage(res) != "Missing scope permissions on the request. API requires one of 'ChannelMessage.Send, Group.ReadWrite.All'. Scopes on the request 'User.Read, Mail.Read'." {
		t.Errorf("without ChannelMessage.Send: %d %v", resp.StatusCode, res)
	}
	outsider := mintDelegatedToken(t, e.sim, e.creds.TenantID, ids["big"], "ChannelMessage.Send ChannelMessage.Read.All")
	if resp, res := cwPost(t, e.sim, path, outsider, hello); resp.StatusCode != 403 || cwErrCode(res) != "Forbidden" {
		t.Errorf("non-member: %d %v", resp.StatusCode, res)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, path, outsider, nil); resp.StatusCode != 403 {
		t.Errorf("non-member list: %d", resp.StatusCode)
	}
	// Joining the team (group membership) lets big post.
	if err := e.sim.AddGroupMember(e.creds.TenantID, info.ID, ids["big"]); err != nil {
		t.Fatal(err)
	}
	if resp, res := cwPost(t, e.sim, path, outsider, hello); resp.StatusCode != 201 {
		t.Errorf("after joining: %d %v", resp.StatusCode, res)
	}
	legacy := mintDelegatedToken(t, e.sim, e.creds.TenantID, ids["bob"], "Group.ReadWrite.All")
	if resp, _ := cwPost(t, e.sim, path, legacy, hello); resp.StatusCode != 201 {
		t.Errorf("Group.ReadWrite.All: %d", resp.StatusCode)
	}
	member := mintDelegatedToken(t, e.sim, e.creds.TenantID, ids["ann"], "ChannelMessage.Send")
	if resp, res := cwPost(t, e.sim, "/v1.0/teams/"+info.ID+"/channels/"+url.PathEscape("19:nope@thread.tacv2")+"/messages", member, hello); resp.StatusCode != 404 || cwErrCode(res) != "NotFound" {
		t.Errorf("unknown channel: %d %v", resp.StatusCode, res)
	}
	if resp, _ := cwPost(t, e.sim, "/v1.0/teams/"+randomGUID()+"/channels/"+url.PathEscape(info.Channels[0].ID)+"/messages", member, hello); resp.StatusCode != 404 {
		t.Errorf("unknown team: %d", resp.StatusCode)
	}
	if resp, _ := cwPost(t, e.sim, path, member, map[string]any{"body": map[string]any{"content": ""}}); resp.StatusCode != 400 {
		t.Errorf("empty body: %d", resp.StatusCode)
	}
	if msgs, _ := e.sim.ChannelMessages(e.creds.TenantID, info.ID, "General"); len(msgs) != 2 {
		t.Errorf("General holds %d messages, want the 2 allowed posts", len(msgs))
	}
}

// The control API creates teams and channels and reads channel messages.
func TestTeams_ControlAPI(t *testing.T) {
	t.Parallel()
	e, _, ids := collabSim(t, []string{"User.Read.All"})
	base := "/tenants/" + e.creds.TenantID
	out := controlCall(t, e.sim, http.MethodPost, base+"/teams", map[string]any{"displayName": "Ops", "members": []string{"bob@fabrikam.example"},
		"channels": []map[string]any{{"displayName": "Alerts"}}}, 200)
	tid := out["id"].(string)
	if chs := out["channels"].([]any); len(chs) != 2 {
		t.Fatalf("channels = %v", chs)
	}
	chID := controlCall(t, e.sim, http.MethodPost, base+"/teams/"+tid+"/channels", map[string]any{"displayName": "Incidents"}, 200)["id"].(string)
	controlCall(t, e.sim, http.MethodPost, base+"/teams/"+tid+"/channels", map[string]any{"displayName": "Incidents"}, 400)
	tok := mintDelegatedToken(t, e.sim, e.creds.TenantID, ids["bob"], "ChannelMessage.Send")
	if resp, res := cwPost(t, e.sim, "/v1.0/teams/"+tid+"/channels/"+url.PathEscape(chID)+"/messages", tok, map[string]any{"body": map[string]any{"content": "disk full"}}); resp.StatusCode != 201 {
		t.Fatalf("post: %d %v", resp.StatusCode, res)
	}
	got := controlCall(t, e.sim, http.MethodGet, base+"/teams/"+tid+"/channels/"+url.PathEscape(chID)+"/messages", nil, 200)
	v := got["value"].([]any)
	if len(v) != 1 || v[0].(map[string]any)["content"] != "disk full" || v[0].(map[string]any)["fromUserId"] != ids["bob"] {
		t.Errorf("control messages = %v", got)
	}
	controlCall(t, e.sim, http.MethodGet, base+"/teams/"+tid+"/channels/Nope/messages", nil, 404)
}
