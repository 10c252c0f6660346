package graphsim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// demoToken starts the demo simulator and returns an app-only raw token.
func demoToken(t *testing.T) (*simEnv, string) {
	t.Helper()
	e := startDemoSim(t)
	return e, rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
}

// S42 and api/user-get-mailboxsettings.md example 1, through the SDK: the
// enums and the timeOfDay values parse.
func TestMailboxSettings_SDKParsesTheDocumentedShape(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	u := e.seed.Users[7] // demo: scheduled automatic replies
	ms, err := client.Users().ByUserId(u.UserPrincipalName).MailboxSettings().Get(ctxT(t), nil)
	if err != nil {
		t.Fatalf("mailboxSettings: %v", err)
	}
	ar := ms.GetAutomaticRepliesSetting()
	if ar == nil || ar.GetStatus() == nil || *ar.GetStatus() != models.SCHEDULED_AUTOMATICREPLIESSTATUS ||
		ar.GetExternalAudience() == nil || *ar.GetExternalAudience() != models.ALL_EXTERNALAUDIENCESCOPE {
		t.Fatalf("automaticRepliesSetting = %+v", ar)
	}
	if deref(ar.GetScheduledStartDateTime().GetDateTime()) != "2025-06-23T00:00:00.0000000" || deref(ar.GetScheduledStartDateTime().GetTimeZone()) != "UTC" {
		t.Errorf("scheduledStartDateTime = %q %q", deref(ar.GetScheduledStartDateTime().GetDateTime()), deref(ar.GetScheduledStartDateTime().GetTimeZone()))
	}
	if deref(ms.GetTimeZone()) != u.MailboxSettings.TimeZone || deref(ms.GetLanguage().GetLocale()) != u.MailboxSettings.Language {
		t.Errorf("timeZone %q language %q", deref(ms.GetTimeZone()), deref(ms.GetLanguage().GetLocale()))
	}
	wh := ms.GetWorkingHours()
	if wh == nil || wh.GetStartTime() == nil || wh.GetStartTime().String() != "08:00:00" || len(wh.GetDaysOfWeek()) != 5 ||
		deref(wh.GetTimeZone().GetName()) != u.MailboxSettings.TimeZone {
		t.Errorf("workingHours = %+v", wh)
	}
	if ms.GetUserPurpose() == nil || *ms.GetUserPurpose() != models.USER_USERPURPOSE {
		t.Errorf("userPurpose = %v", ms.GetUserPurpose())
	}
}

func TestMailboxSettings_RawShapesSubPathsSelectAndErrors(t *testing.T) {
	t.Parallel()
	e, tok := demoToken(t)
	upn := e.seed.Users[4].UserPrincipalName // alwaysEnabled
	base := "/v1.0/users/" + upn + "/mailboxSettings"

	resp, body := rawDo(t, e.sim, http.MethodGet, base, tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	m := jsonObject(t, body)
	sameKeys(t, "mailboxSettings", m, "@odata.context", "archiveFolder", "timeZone", "automaticRepliesSetting", "language",
		"workingHours", "userPurpose", "dateFormat", "timeFormat", "delegateMeetingMessageDeliveryOptions")
	if !strings.HasSuffix(m["@odata.context"].(string), "/v1.0/$metadata#users('"+upn+"')/mailboxSettings") {
		t.Errorf("@odata.context = %v", m["@odata.context"])
	}
	ar := m["automaticRepliesSetting"].(map[string]any)
	sameKeys(t, "automaticRepliesSetting", ar, "status", "externalAudience", "scheduledStartDateTime", "scheduledEndDateTime", "internalReplyMessage", "externalReplyMessage")
	if ar["status"] != "alwaysEnabled" || ar["externalAudience"] != "contactsOnly" || !strings.Contains(ar["internalReplyMessage"].(string), "out of the office") {
		t.Errorf("automaticRepliesSetting = %v", ar)
	}
	wh := m["workingHours"].(map[string]any)
	sameKeys(t, "workingHours", wh, "daysOfWeek", "startTime", "endTime", "timeZone")
	if wh["startTime"] != "08:00:00.0000000" || wh["endTime"] != "17:00:00.0000000" {
		t.Errorf("workingHours = %v", wh)
	}
	if lang := m["language"].(map[string]any); lang["locale"] != "en-IN" || lang["displayName"] != "English (India)" {
		t.Errorf("language = %v", lang)
	}

	// A string sub-path: {"@odata.context","value"}; an object one: the bare object (S42).
	resp, body = rawDo(t, e.sim, http.MethodGet, base+"/timeZone", tok, nil)
	m = jsonObject(t, body)
	sameKeys(t, "timeZone", m, "@odata.context", "value")
	if resp.StatusCode != 200 || m["value"] != "India Standard Time" || !strings.HasSuffix(m["@odata.context"].(string), "/mailboxSettings/timeZone") {
		t.Errorf("timeZone: %d %s", resp.StatusCode, body)
	}
	_, body = rawDo(t, e.sim, http.MethodGet, base+"/automaticRepliesSetting", tok, nil)
	sameKeys(t, "automaticRepliesSetting", jsonObject(t, body), "@odata.context", "status", "externalAudience", "scheduledStartDateTime", "scheduledEndDateTime", "internalReplyMessage", "externalReplyMessage")
	_, body = rawDo(t, e.sim, http.MethodGet, base+"/workingHours", tok, nil)
	sameKeys(t, "workingHours", jsonObject(t, body), "@odata.context", "daysOfWeek", "startTime", "endTime", "timeZone")

	resp, body = rawDo(t, e.sim, http.MethodGet, base+"?$select=timeZone,workingHours", tok, nil)
	sameKeys(t, "selected", jsonObject(t, body), "@odata.context", "timeZone", "workingHours")
	if resp.StatusCode != 200 {
		t.Errorf("$select: %d", resp.StatusCode)
	}
	for path, want := range map[string]string{
		base + "?$select=nope":                 `"RequestBroker--ParseUri"`,
		base + "/nope":                         `"BadRequest"`,
		base + "?$filter=x eq 'y'":             `"NotImplemented"`,
		"/v1.0/users/nobody@x/mailboxSettings": `"ErrorInvalidUser"`,
	} {
		resp, body := rawDo(t, e.sim, http.MethodGet, strings.ReplaceAll(path, " ", "%20"), tok, nil)
		if resp.StatusCode < 400 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %s, want %s", path, resp.StatusCode, body, want)
		}
	}

	// A user without a mailbox.
	if err := e.sim.UpsertUser(e.creds.TenantID, UserSeed{DisplayName: "No Mailbox", UserPrincipalName: "nomail@contoso.example"}); err != nil {
		t.Fatal(err)
	}
	resp, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/nomail@contoso.example/mailboxSettings", tok, nil)
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"MailboxNotEnabledForRESTAPI"`) {
		t.Errorf("no mailbox: %d %s", resp.StatusCode, body)
	}

	// Without MailboxSettings.Read (§8): 403 ErrorAccessDenied (S11).
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Mail.Read", "User.Read.All"}); err != nil {
		t.Fatal(err)
	}
	tok2 := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	resp, body = rawDo(t, e.sim, http.MethodGet, base, tok2, nil)
	if resp.StatusCode != 403 || !strings.Contains(string(body), `"ErrorAccessDenied"`) {
		t.Errorf("without MailboxSettings.Read: %d %s", resp.StatusCode, body)
	}
}

func TestMailboxSettings_ControlChangesThem(t *testing.T) {
	t.Parallel()
	e, tok := demoToken(t)
	upn := e.seed.Users[0].UserPrincipalName
	start := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	controlCall(t, e.sim, http.MethodPut, "/tenants/"+e.creds.TenantID+"/users/"+upn+"/mailbox-settings", MailboxSettings{
		TimeZone: "Tokyo Standard Time", WorkingHours: WorkingHours{DaysOfWeek: []string{"Monday"}, StartTime: "09:30", EndTime: "18:00"},
		AutomaticReplies: AutoReplies{Status: "scheduled", ScheduledStart: start, ScheduledEnd: start.Add(48 * time.Hour), ExternalReplyMessage: "away"},
	}, http.StatusOK)
	_, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+upn+"/mailboxSettings", tok, nil)
	m := jsonObject(t, body)
	wh := m["workingHours"].(map[string]any)
	ar := m["automaticRepliesSetting"].(map[string]any)
	if m["timeZone"] != "Tokyo Standard Time" || wh["startTime"] != "09:30:00.0000000" || wh["daysOfWeek"].([]any)[0] != "monday" ||
		wh["timeZone"].(map[string]any)["name"] != "Tokyo Standard Time" || ar["status"] != "scheduled" ||
		ar["scheduledEndDateTime"].(map[string]any)["dateTime"] != "2025-07-03T08:00:00.0000000" || ar["externalReplyMessage"] != "away" {
		t.Errorf("after control change: %s", body)
	}
	if err := e.sim.SetMailboxSettings(e.creds.TenantID, upn, MailboxSettings{AutomaticReplies: AutoReplies{Status: "Sometimes"}}); err == nil {
		t.Error("invalid status accepted")
	}
}
