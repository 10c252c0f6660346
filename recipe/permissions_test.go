package recipe

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/outlookflow/outlookflow/internal/permissions"
)

// TestExamplePermissionsMatchTheLeastPrivilegeTable checks each example's
// minimal set against graph-behavior.md §8, in both auth modes. Sending,
// replying and forwarding write a keyed draft first (Mail.ReadWrite) and
// then send it (Mail.Send).
func TestExamplePermissionsMatchTheLeastPrivilegeTable(t *testing.T) {
	want := map[string]struct{ app, delegated []string }{
		"vip-forward":      {[]string{"Mail.ReadWrite", "Mail.Send"}, []string{"Mail.ReadWrite", "Mail.Send"}},
		"vip-escalate":     {[]string{"Mail.ReadWrite", "Mail.Send"}, []string{"Mail.ReadWrite", "Mail.Send"}},
		"meeting-request":  {[]string{"Calendars.ReadWrite", "Mail.ReadWrite", "Mail.Send"}, []string{"Calendars.ReadWrite", "Mail.ReadWrite", "Mail.Send"}},
		"sync-invite":      {[]string{"Calendars.ReadWrite", "Mail.ReadWrite", "Mail.Send", "OnlineMeetings.ReadWrite.All"}, []string{"Calendars.ReadWrite", "Mail.ReadWrite", "Mail.Send", "OnlineMeetings.ReadWrite"}},
		"meeting-reminder": {[]string{"Calendars.Read", "GroupMember.Read.All", "Mail.ReadWrite", "Mail.Send"}, []string{"Calendars.Read", "GroupMember.Read.All", "Mail.ReadWrite", "Mail.Send"}},
		"daily-digest":     {[]string{"Mail.ReadWrite", "Mail.Send"}, []string{"Mail.ReadWrite", "Mail.Send"}},
		"flagged-to-teams": {[]string{"Mail.ReadBasic.All"}, []string{"ChannelMessage.Send", "Mail.ReadBasic"}},
		"newsletters":      {[]string{"Mail.ReadWrite"}, []string{"Mail.ReadWrite"}},
	}
	valid, errs := LoadDir(examplesDir, Options{})
	extra, extraErrs := LoadDir(filepath.Join("testdata", "extra"), Options{})
	valid, errs = append(valid, extra...), append(errs, extraErrs...)
	if len(errs) > 0 {
		t.Fatalf("examples do not validate: %v", errs)
	}
	for _, r := range valid {
		w, ok := want[r.Name]
		if !ok {
			t.Errorf("example %s has no expected permissions in this test", r.Name)
			continue
		}
		if got := permissions.Names(Permissions(r, false)); !reflect.DeepEqual(got, w.app) {
			t.Errorf("%s app-only = %v, want %v", r.Name, got, w.app)
		}
		if got := permissions.Names(Permissions(r, true)); !reflect.DeepEqual(got, w.delegated) {
			t.Errorf("%s delegated = %v, want %v", r.Name, got, w.delegated)
		}
	}
}

func TestNeedsExplainsUnsupportedAndNotedPermissions(t *testing.T) {
	r := mustParse(t, head+mailTrigger+`steps:
  - id: find
    findMeetingTimes: {attendees: a@contoso.com, duration: 30m}
  - id: meet
    createOnlineMeeting: {subject: x, start: "2025-03-01T09:00:00Z", duration: 30m}
  - id: raw
    graphRequest:
      method: POST
      path: /users/{{ trigger.mailbox }}/todo/lists
      body: '{"displayName": "x"}'
      permissions: {application: [Tasks.ReadWrite.All], delegated: [Tasks.ReadWrite]}
`)
	var lines []string
	for _, n := range Needs(r, false) {
		lines = append(lines, n.By+" "+n.Permission+" "+n.Unsupported+" "+n.Note)
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		`step "find" (findMeetingTimes)  Graph's findMeetingTimes has no application permission`,
		`step "meet" (createOnlineMeeting) OnlineMeetings.ReadWrite.All  plus an application access policy`,
		`step "raw" (graphRequest) Tasks.ReadWrite.All  declared by the recipe`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Needs lacks %q:\n%s", want, got)
		}
	}
	if names := permissions.Names(Permissions(r, true)); !reflect.DeepEqual(names, []string{"Calendars.Read", "Mail.ReadBasic", "OnlineMeetings.ReadWrite", "Tasks.ReadWrite"}) {
		t.Errorf("delegated Permissions = %v", names)
	}
}

func TestGrantWithEverythingNeededValidates(t *testing.T) {
	opts := Options{Tenants: map[string]Grant{"demo": {Delegated: true,
		Permissions: []string{"Mail.ReadWrite", "Mail.Send", "ChannelMessage.Send", "Calendars.ReadWrite", "OnlineMeetings.ReadWrite", "GroupMember.Read.All"}}}}
	if _, errs := LoadDir(examplesDir, opts); len(errs) > 0 {
		t.Errorf("examples fail against a delegated grant that covers them:\n%s", Diagnostics(errs).Error())
	}
}
