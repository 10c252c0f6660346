package recipe

import (
	"reflect"
	"strings"
	"testing"
)

// head is the start of most test recipes: four lines, so the case's own
// lines start at line 5.
const head = `name: t
tenant: contoso
mailboxes:
  all: true
`

const mailTrigger = `trigger:
  newMail: {}
`

// TestInvalidRecipesReportPositionedDiagnostics covers every class of
// validation error with the exact "file:line:col: message" it produces.
func TestInvalidRecipesReportPositionedDiagnostics(t *testing.T) {
	appOnlyReadOnly := Options{Tenants: map[string]Grant{"contoso": {Permissions: []string{"Mail.ReadBasic.All"}}}}
	delegatedAll := Options{Tenants: map[string]Grant{"contoso": {Delegated: true, Permissions: []string{"Mail.ReadWrite", "Mail.Send"}}}}
	appOnlyUnknownGrant := Options{Tenants: map[string]Grant{"contoso": {}}}
	cases := []struct {
		name string
		yaml string
		opts Options
		want []string
	}{
		// Unknown trigger or action.
		{"unknown trigger", head + "trigger:\n  newMial: {}\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:6:3: unknown trigger "newMial"; did you mean "newMail"?`}},
		{"unknown action", head + mailTrigger + "steps:\n  - id: a\n    sendMial:\n      to: x@contoso.com\n", Options{},
			[]string{`f.yaml:9:5: unknown action "sendMial" in step "a"; did you mean "send"?`}},
		{"step without action", head + mailTrigger + "steps:\n  - id: a\n", Options{},
			[]string{`f.yaml:8:5: step "a" has no action; add one of ` + strings.Join(Actions(), ", ") + `, wait or if`}},
		{"two actions in a step", head + mailTrigger + "steps:\n  - id: a\n    markRead: {}\n    delete: {}\n", Options{},
			[]string{`f.yaml:10:5: step "a" has both markRead and delete; a step does exactly one thing: split it into two steps`}},

		// Bad fields: unknown key, wrong type, bad duration, cron, time zone, enum.
		{"unknown trigger field", head + "trigger:\n  newMail:\n    fom: boss@contoso.com\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:5: unknown field "fom" in trigger newMail; did you mean "from"?`}},
		{"unknown action field", head + mailTrigger + "steps:\n  - id: a\n    send:\n      to: x@contoso.com\n      subjet: hi\n", Options{},
			[]string{
				`f.yaml:9:5: send step "a" needs subject; add subject: ...`,
				`f.yaml:11:7: unknown field "subjet" in send step "a"; did you mean "subject"?`,
			}},
		{"unknown top-level field", head + mailTrigger + "condtion: true\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:1: unknown field "condtion" in recipe; did you mean "condition"?`}},
		{"duplicate field", head + "trigger:\n  newMail:\n    from: a@contoso.com\n    from: b@contoso.com\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:8:5: field "from" appears twice in trigger newMail (first at 7:5); keep one`}},
		{"wrong type: quoted bool", head + "trigger:\n  newMail:\n    hasAttachments: \"true\"\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:21: "hasAttachments" in trigger newMail must be true or false, not "true"; remove the quotes`}},
		{"wrong type: mapping for text", head + mailTrigger + "steps:\n  - id: a\n    forward:\n      to: {address: x@contoso.com}\n", Options{},
			[]string{`f.yaml:10:11: "to" in forward step "a" must be text or a list of text, not a mapping`}},
		{"wrong type: number", head + "trigger:\n  schedule: {every: 1h}\nsteps:\n  - id: a\n    summarize: {mailbox: a@contoso.com, of: threads, maxItems: many}\n", Options{},
			[]string{`f.yaml:9:64: "maxItems" in summarize step "a" must be a whole number, not "many"`}},
		{"bad duration", head + "trigger:\n  upcomingEvent:\n    leadTime: 15 minutes\nsteps:\n  - id: a\n    cancelEvent: {}\n", Options{},
			[]string{`f.yaml:7:15: bad duration "15 minutes" for "leadTime" in trigger upcomingEvent; write it like 90s, 15m, 2h or 2d`}},
		{"bad wait duration", head + mailTrigger + "steps:\n  - id: w\n    wait:\n      for: 2 days\n", Options{},
			[]string{`f.yaml:10:12: bad duration "2 days" for "for" in wait step "w"; write it like 90s, 15m, 2h or 2d`}},
		{"bad cron value", head + "trigger:\n  schedule:\n    cron: \"61 9 * * *\"\nsteps:\n  - id: a\n    summarize: {mailbox: a@contoso.com, of: events}\n", Options{},
			[]string{`f.yaml:7:11: bad cron "61 9 * * *" in trigger schedule: minute 61 is out of range 0-59; write five fields, minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5"`}},
		{"bad cron shape", head + "trigger:\n  schedule:\n    cron: \"0 9 * *\"\nsteps:\n  - id: a\n    summarize: {mailbox: a@contoso.com, of: events}\n", Options{},
			[]string{`f.yaml:7:11: bad cron "0 9 * *" in trigger schedule: it has 4 fields, not 5; write five fields, minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5"`}},
		{"bad time zone", head + "trigger:\n  schedule:\n    cron: \"0 9 * * 1-5\"\n    timeZone: Europe/Pariss\nsteps:\n  - id: a\n    summarize: {mailbox: a@contoso.com, of: events}\n", Options{},
			[]string{`f.yaml:8:15: unknown time zone "Europe/Pariss" in trigger schedule; use an IANA name such as "Europe/Paris" or "America/New_York"`}},
		{"every and cron", head + "trigger:\n  schedule:\n    every: 1h\n    cron: \"@daily\"\nsteps:\n  - id: a\n    summarize: {mailbox: a@contoso.com, of: events}\n", Options{},
			[]string{`f.yaml:8:11: schedule has both every and cron; keep one`}},
		{"bad enum with suggestion", head + "trigger:\n  newMail:\n    importance: hihg\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:17: bad value "hihg" for "importance" in trigger newMail; did you mean "high"? (one of low, normal, high)`}},
		{"bad enum in action", head + mailTrigger + "steps:\n  - id: a\n    respondToEvent: {eventId: x, response: maybe}\n", Options{},
			[]string{`f.yaml:9:44: bad value "maybe" for "response" in respondToEvent step "a"; use one of accept, tentative, decline`}},
		{"bad change type", head + "trigger:\n  eventChanged:\n    changeTypes: [created, moved]\nsteps:\n  - id: a\n    cancelEvent: {}\n", Options{},
			[]string{`f.yaml:7:28: changeTypes in trigger eventChanged must list created, updated or deleted, not "moved"; known: created, updated, deleted`}},
		{"missing required", head + mailTrigger + "steps:\n  - id: a\n    forward: {}\n", Options{},
			[]string{`f.yaml:9:5: forward step "a" needs to; add to: ...`}},
		{"duplicate step id", head + mailTrigger + "steps:\n  - id: a\n    markRead: {}\n  - id: a\n    delete: {}\n", Options{},
			[]string{`f.yaml:10:9: step id "a" is already used at 8:9; step ids must be unique in a recipe`}},
		{"message action without a message", head + "trigger:\n  schedule: {every: 1h}\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:9:5: markRead step "a" needs a message: trigger schedule has none; set messageId (e.g. "{{ steps.<id>.messageId }}") or use a mail trigger`}},
		{"missing mailboxes", "name: t\ntenant: contoso\ntrigger:\n  newMail: {}\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:1:1: the recipe has no mailboxes; add mailboxes: with users: [...], group: <group> or all: true`}},
		{"yaml syntax", "name: t\ntenant: [contoso\n", Options{},
			[]string{`f.yaml:1:1: bad YAML: did not find expected ',' or ']'; check the indentation, brackets and quoting around this line`}},

		// Bad expressions: syntax and type errors.
		{"condition syntax", head + mailTrigger + "condition: mail.subject ==\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:26: bad condition: bad expression: unexpected token EOF; see https://expr-lang.org/docs/language-definition`}},
		{"condition not boolean", head + mailTrigger + "condition: mail.subject\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:12: bad condition: the expression gives a string, not true or false; compare it, e.g. mail.importance == "high"`}},
		{"condition type mismatch", head + mailTrigger + "condition: mail.isRead == \"yes\"\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:24: bad condition: bad expression: invalid operation: == (mismatched types bool and string); see https://expr-lang.org/docs/language-definition`}},
		{"condition missing field", head + mailTrigger + "condition: mail.importance == \"high\" && mail.subjct != \"\"\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:46: bad condition: unknown field "subjct" in mail; did you mean "subject"?`}},
		{"condition in a quoted scalar", head + mailTrigger + "condition: \"mail.fro == 'x'\"\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:18: bad condition: unknown field "fro" in mail; did you mean "from"?`}},
		{"condition in a block scalar", head + mailTrigger + "condition: >-\n  mail.hasAttachments &&\n  mail.importanc == \"high\"\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:9:8: bad condition: unknown field "importanc" in mail; did you mean "importance"?`}},
		{"event out of scope", head + mailTrigger + "condition: event.isOnlineMeeting\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:12: bad condition: event is not available with trigger newMail; in scope: mail, trigger, recipe, now, steps`}},
		{"unknown name", head + mailTrigger + "condition: mial.isRead\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:12: bad condition: unknown name "mial"; did you mean "mail"?`}},
		{"method calls refused", head + mailTrigger + "condition: mail.receivedAt.Unix() > 0\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:28: bad condition: calling mail.receivedAt.Unix is not allowed; recipes may only use expr's built-in functions (len, lower, upper, trim, duration, date…)`}},
		{"now() refused", head + mailTrigger + "condition: now() > mail.receivedAt\nsteps:\n  - id: a\n    markRead: {}\n", Options{},
			[]string{`f.yaml:7:12: bad condition: bad expression: time.Time is not callable; see https://expr-lang.org/docs/language-definition`}},
		{"if with a later step", head + mailTrigger + "steps:\n  - id: a\n    if: steps.b.replied\n    then:\n      - id: b\n        wait: {for: 1h}\n", Options{},
			[]string{`f.yaml:9:15: bad if: step "b" runs after this point; only earlier steps' outputs can be used`}},
		{"step output field", head + mailTrigger + "steps:\n  - id: w\n    wait: {for: 1h}\n  - id: a\n    if: steps.w.replyed\n    then:\n      - id: b\n        markRead: {}\n", Options{},
			[]string{`f.yaml:11:17: bad if: unknown field "replyed" in steps.w; did you mean "replied"?`}},
		{"step without outputs", head + mailTrigger + "steps:\n  - id: m\n    markRead: {}\n  - id: a\n    if: steps.m.done\n    then:\n      - id: b\n        delete: {}\n", Options{},
			[]string{`f.yaml:11:17: bad if: step "m" (markRead) has no outputs; refer to another step or to the trigger's data`}},

		// Templates referencing a missing field.
		{"template missing field", head + mailTrigger + "steps:\n  - id: a\n    forward:\n      to: x@contoso.com\n      body: \"From {{ mail.sendr }}\"\n", Options{},
			[]string{`f.yaml:11:27: bad template in body of forward step "a": unknown field "sendr" in mail; did you mean "sender"?`}},
		{"template missing field in a block", head + mailTrigger + "steps:\n  - id: a\n    reply:\n      body: |\n        Hello {{ mail.fromName }},\n        about {{ mail.subjet }}\n", Options{},
			[]string{`f.yaml:12:23: bad template in body of reply step "a": unknown field "subjet" in mail; did you mean "subject"?`}},
		{"template missing step", head + mailTrigger + "steps:\n  - id: a\n    reply:\n      body: \"{{ steps.meeting.joinUrl }}\"\n", Options{},
			[]string{`f.yaml:10:23: bad template in body of reply step "a": no step "meeting" before this point; there are no earlier steps`}},
		{"template in a recipient list", head + mailTrigger + "steps:\n  - id: a\n    forward:\n      to: [x@contoso.com, \"{{ mail.manager }}\"]\n", Options{},
			[]string{`f.yaml:10:36: bad template in to of forward step "a": unknown field "manager" in mail; known: ` + strings.Join(exprFields(reflect.TypeOf(MailVars{})), ", ")}},
		{"template unclosed", head + mailTrigger + "steps:\n  - id: a\n    reply:\n      body: \"Hi {{ mail.fromName\"\n", Options{},
			[]string{`f.yaml:10:17: bad template in body of reply step "a": unclosed {{; end the placeholder with }}`}},
		{"template whole record", head + mailTrigger + "steps:\n  - id: a\n    reply:\n      body: \"{{ mail }}\"\n", Options{},
			[]string{`f.yaml:10:17: bad template in body of reply step "a": {{ mail }} is a whole message, which cannot be printed; pick one of its fields, e.g. {{ mail.subject }}`}},
		{"bad literal time", head + mailTrigger + "steps:\n  - id: a\n    createEvent: {subject: x, start: tomorrow, duration: 30m}\n", Options{},
			[]string{`f.yaml:9:38: "start" in createEvent step "a" is not a date-time: "tomorrow"; write 2025-03-01T09:00:00Z, 2025-03-01T09:00 (in timeZone) or a template such as "{{ event.start }}"`}},

		// Permissions the tenant lacks, and auth modes Graph does not support.
		{"permission not granted", head + mailTrigger + "steps:\n  - id: fwd\n    forward:\n      to: x@contoso.com\n", appOnlyReadOnly,
			[]string{`f.yaml:9:5: step "fwd" (forward) needs Mail.Send, which tenant "contoso" has not granted (application permissions); grant it to the app and consent again, or remove step "fwd"`,
				`f.yaml:9:5: step "fwd" (forward) needs Mail.ReadWrite, which tenant "contoso" has not granted (application permissions); grant it to the app and consent again, or remove step "fwd"`}},
		{"trigger permission not granted", head + "trigger:\n  eventChanged: {}\nsteps:\n  - id: a\n    markRead: {messageId: x}\n", delegatedAll,
			[]string{`f.yaml:6:3: trigger eventChanged needs Calendars.Read, which tenant "contoso" has not granted (delegated permissions); grant it to the app and consent again, or remove trigger eventChanged`}},
		{"app-only unsupported", head + mailTrigger + "steps:\n  - id: post\n    postChannelMessage: {team: t, channel: c, body: hi}\n", appOnlyUnknownGrant,
			[]string{`f.yaml:9:5: step "post" (postChannelMessage) cannot run for tenant "contoso" (application auth): Graph only allows posting channel messages app-only for migration (Teamwork.Migrate.All); connect the tenant with delegated auth or remove the step`}},
		{"findMeetingTimes app-only", head + mailTrigger + "steps:\n  - id: find\n    findMeetingTimes: {attendees: a@contoso.com, duration: 30m}\n", appOnlyUnknownGrant,
			[]string{`f.yaml:9:5: step "find" (findMeetingTimes) cannot run for tenant "contoso" (application auth): Graph's findMeetingTimes has no application permission; connect the tenant with delegated auth or remove the step`}},
		{"graphRequest without declared permissions for the mode", head + mailTrigger + "steps:\n  - id: g\n    graphRequest:\n      method: GET\n      path: /me\n      permissions: {application: [User.Read.All]}\n", delegatedAll,
			[]string{`f.yaml:9:5: step "g" (graphRequest) cannot run for tenant "contoso" (delegated auth): the step declares no delegated permissions; add permissions.delegated to the step with what the request needs`}},
		{"unknown tenant", head + mailTrigger + "steps:\n  - id: a\n    markRead: {}\n", Options{Tenants: map[string]Grant{"contosa": {}}},
			[]string{`f.yaml:2:9: tenant "contoso" is not configured; did you mean "contosa"?`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, diags := Parse("f.yaml", []byte(tc.yaml), tc.opts)
			if r != nil {
				t.Fatalf("Parse returned a recipe for an invalid file")
			}
			var got []string
			for _, d := range diags {
				got = append(got, d.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("diagnostics differ\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}

func TestParseCollectsEveryProblemNotJustTheFirst(t *testing.T) {
	src := head + "trigger:\n  newMail:\n    fom: a@contoso.com\n    importance: urgent\ncondition: mail.x\nsteps:\n  - id: a\n    sendd: {}\n"
	_, diags := Parse("f.yaml", []byte(src), Options{})
	if len(diags) != 4 {
		t.Fatalf("got %d diagnostics, want 4 (unknown field, enum, expression, action):\n%s", len(diags), Diagnostics(diags).Error())
	}
	for i := 1; i < len(diags); i++ {
		if diags[i].Line < diags[i-1].Line {
			t.Errorf("diagnostics are not sorted by position:\n%s", Diagnostics(diags).Error())
		}
	}
}

func TestParseValidRecipeFillsDefaults(t *testing.T) {
	src := head + "trigger:\n  newMail:\n    from: [Boss@Contoso.com]\nsteps:\n  - id: w\n    wait: {for: 1d12h, untilReplyInConversation: true}\n  - id: b\n    send:\n      to: x@contoso.com\n      subject: \"{{ mail.subject }}\"\n      bodyType: html\n      body: \"<p>{{ mail.fromName }}</p>\"\n"
	r, diags := Parse("f.yaml", []byte(src), Options{})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", Diagnostics(diags).Error())
	}
	if !r.Enabled {
		t.Errorf("Enabled = false, want the default true")
	}
	if r.Trigger.Folder != "inbox" {
		t.Errorf("newMail folder = %q, want the default inbox", r.Trigger.Folder)
	}
	if got := r.Trigger.From; len(got) != 1 || got[0] != "boss@contoso.com" {
		t.Errorf("From = %v, want addresses lower-cased", got)
	}
	if w := r.Steps[0].Wait; w.For.Hours() != 36 || !w.UntilReplyInConversation {
		t.Errorf("wait = %+v, want 36h and until reply", w)
	}
	if !r.Steps[1].Param("body").Text.HTML {
		t.Errorf("an html body's template is not marked HTML")
	}
	if r.Steps[1].Param("subject").Text.HTML {
		t.Errorf("the subject is marked HTML; only bodies with bodyType html are")
	}
}

func TestScheduleDefaultsAndMacros(t *testing.T) {
	for _, cron := range []string{"@daily", "*/15 8-18 * * MON-FRI", "0 9 1,15 jan-jun 0", "30 6 * * 7"} {
		src := head + "trigger:\n  schedule:\n    cron: \"" + cron + "\"\nsteps:\n  - id: a\n    summarize: {of: events}\n"
		r, diags := Parse("f.yaml", []byte(src), Options{})
		if len(diags) > 0 {
			t.Fatalf("cron %q rejected:\n%s", cron, Diagnostics(diags).Error())
		}
		if r.Trigger.TimeZone != "UTC" {
			t.Errorf("cron %q: TimeZone = %q, want the default UTC", cron, r.Trigger.TimeZone)
		}
	}
}
