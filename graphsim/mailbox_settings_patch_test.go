package graphsim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// api/user-update-mailboxsettings.md example 1: automatic replies, the
// response carries only the updated property; GET reflects it.
func TestMailboxSettings_PatchAutomaticReplies(t *testing.T) {
	t.Parallel()
	e, tok, ids := collabSim(t, []string{"MailboxSettings.ReadWrite"})
	path := "/v1.0/users/" + ids["ann"] + "/mailboxSettings"
	resp, res := cwPatch(t, e.sim, path, tok, map[string]any{
		"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Me/mailboxSettings",
		"automaticRepliesSetting": map[string]any{
			"status":                 "Scheduled",
			"externalAudience":       "ContactsOnly",
			"scheduledStartDateTime": map[string]any{"dateTime": "2026-03-20T18:00:00.0000000", "timeZone": "UTC"},
			"scheduledEndDateTime":   map[string]any{"dateTime": "2026-03-28T18:00:00.0000000", "timeZone": "UTC"},
			"internalReplyMessage":   "<html><body><p>At the reunion.</p></body></html>",
			"externalReplyMessage":   "Away until the 28th.",
		},
	})
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH: %d %v", resp.StatusCode, res)
	}
	sameKeys(t, "PATCH response", res, "@odata.context", "automaticRepliesSetting")
	ar := res["automaticRepliesSetting"].(map[string]any)
	if ar["status"] != "scheduled" || ar["externalAudience"] != "contactsOnly" ||
		ar["scheduledStartDateTime"].(map[string]any)["dateTime"] != "2026-03-20T18:00:00.0000000" ||
		ar["scheduledEndDateTime"].(map[string]any)["timeZone"] != "UTC" || ar["externalReplyMessage"] != "Away until the 28th." {
		t.Errorf("automaticRepliesSetting = %v", ar)
	}
	_, b := rawDo(t, e.sim, http.MethodGet, path+"/automaticRepliesSetting", tok, nil)
	got := jsonObject(t, b)
	if got["status"] != "scheduled" || got["internalReplyMessage"] != "<html><body><p>At the reunion.</p></body></html>" {
		t.Errorf("GET automaticRepliesSetting = %v", got)
	}
	ms, err := e.sim.GetMailboxSettings(e.creds.TenantID, ids["ann"])
	if err != nil || ms.AutomaticReplies.Status != "scheduled" || !ms.AutomaticReplies.ScheduledEnd.Equal(time.Date(2026, 3, 28, 18, 0, 0, 0, time.UTC)) {
		t.Errorf("GetMailboxSettings = %+v, %v", ms.AutomaticReplies, err)
	}
	// Members left out keep their values.
	resp, res = cwPatch(t, e.sim, path, tok, map[string]any{"automaticRepliesSetting": map[string]any{"status": "alwaysEnabled"}})
	if ar := res["automaticRepliesSetting"].(map[string]any); resp.StatusCode != 200 || ar["status"] != "alwaysEnabled" || ar["externalReplyMessage"] != "Away until the 28th." || ar["externalAudience"] != "contactsOnly" {
		t.Errorf("partial update: %d %v", resp.StatusCode, res)
	}
	// Other settings: only the updated ones come back.
	resp, res = cwPatch(t, e.sim, path, tok, map[string]any{"timeZone": "Tokyo Standard Time",
		"workingHours": map[string]any{"endTime": "18:30:00.0000000", "daysOfWeek": []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}}})
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH working hours: %d %v", resp.StatusCode, res)
	}
	sameKeys(t, "PATCH response", res, "@odata.context", "timeZone", "workingHours")
	if wh := res["workingHours"].(map[string]any); wh["endTime"] != "18:30:00.0000000" || wh["startTime"] != "08:00:00.0000000" || len(wh["daysOfWeek"].([]any)) != 6 || wh["daysOfWeek"].([]any)[5] != "saturday" {
		t.Errorf("workingHours = %v", wh)
	}
	_, b = rawDo(t, e.sim, http.MethodGet, path, tok, nil)
	if all := jsonObject(t, b); all["timeZone"] != "Tokyo Standard Time" || all["automaticRepliesSetting"].(map[string]any)["status"] != "alwaysEnabled" {
		t.Errorf("GET mailboxSettings = %v", all)
	}
	// The doc's errors.
	for _, c := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"workingHours": map[string]any{"startTime": "08"}}, "RequestBodyRead"},
		{map[string]any{"workingHours": map[string]any{"startTime": "19:00:00"}}, "ErrorInvalidTimeSettings"},
		{map[string]any{"workingHours": map[string]any{"daysOfWeek": []string{"RandomDay"}}}, "InvalidArguments"},
		{map[string]any{"timeZone": "Mars Standard Time"}, "InvalidTimeZone"},
		{map[string]any{"automaticRepliesSetting": map[string]any{"status": "sometimes"}}, "RequestBodyRead"},
		{map[string]any{"userPurpose": "shared"}, "ErrorInvalidPropertySet"},
	} {
		if resp, res := cwPatch(t, e.sim, path, tok, c.body); resp.StatusCode != 400 || cwErrCode(res) != c.code {
			t.Errorf("%v: %d %v, want 400 %s", c.body, resp.StatusCode, res, c.code)
		}
	}
	if ms, _ := e.sim.GetMailboxSettings(e.creds.TenantID, ids["ann"]); ms.TimeZone != "Tokyo Standard Time" || ms.WorkingHours.StartTime != "08:00:00.0000000" {
		t.Errorf("a refused PATCH changed the settings: %+v", ms)
	}
	// MailboxSettings.Read cannot write; a delegated owner with ReadWrite can.
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"MailboxSettings.Read"}); err != nil {
		t.Fatal(err)
	}
	ro := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	if resp, res := cwPatch(t, e.sim, path, ro, map[string]any{"timeZone": "UTC"}); resp.StatusCode != 403 || cwErrCode(res) != "ErrorAccessDenied" {
		t.Errorf("with MailboxSettings.Read: %d %v", resp.StatusCode, res)
	}
	del := mintDelegatedToken(t, e.sim, e.creds.TenantID, ids["bob"], "MailboxSettings.ReadWrite")
	if resp, res := cwPatch(t, e.sim, "/v1.0/me/mailboxSettings", del, map[string]any{"automaticRepliesSetting": map[string]any{"status": "alwaysEnabled", "internalReplyMessage": "Out"}}); resp.StatusCode != 200 ||
		!strings.HasSuffix(res["@odata.context"].(string), "users('"+ids["bob"]+"')/mailboxSettings") {
		t.Errorf("delegated PATCH /me: %d %v", resp.StatusCode, res)
	}
	if ms, _ := e.sim.GetMailboxSettings(e.creds.TenantID, ids["bob"]); ms.AutomaticReplies.Status != "alwaysEnabled" || ms.AutomaticReplies.InternalReplyMessage != "Out" {
		t.Errorf("bob's settings = %+v", ms.AutomaticReplies)
	}
}
