package recipe

import (
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/domain"
)

// mustParse parses a recipe that must be valid.
func mustParse(t *testing.T, src string) *Recipe {
	t.Helper()
	r, diags := Parse("t.yaml", []byte(src), Options{})
	if len(diags) > 0 {
		t.Fatalf("recipe does not validate:\n%s", Diagnostics(diags).Error())
	}
	return r
}

var t0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// newMessage is a message that passes every filter the tests set.
func newMessage() *domain.Message {
	return &domain.Message{
		ID: "m1", Mailbox: "u1", FolderID: "f-inbox", ConversationID: "c1",
		From:    domain.EmailAddress{Name: "Boss", Address: "Boss@Contoso.com"},
		To:      []domain.EmailAddress{{Address: "alice@contoso.com"}},
		Cc:      []domain.EmailAddress{{Address: "team@contoso.com"}},
		Subject: "Quarterly sync <agenda>", ReceivedAt: t0.Add(-time.Hour),
		Importance: domain.ImportanceHigh, HasAttachments: true, Categories: []string{"VIP"},
	}
}

func mailInput(ct domain.ChangeType, m *domain.Message) Input {
	return Input{
		Change:  domain.Change{Kind: domain.KindMessage, Mailbox: "u1", ItemID: m.ID, Type: ct},
		Mailbox: "u1", MailboxAddress: "alice@contoso.com", Message: m,
		Folder: &domain.MailFolder{ID: "f-inbox", WellKnownName: "inbox", DisplayName: "Inbox"},
		Now:    t0,
	}
}

func newEvent() *domain.Event {
	return &domain.Event{
		ID: "e1", Mailbox: "u1", Subject: "Weekly sync", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour),
		Organizer:       domain.EmailAddress{Address: "bob@contoso.com"},
		Attendees:       []domain.Attendee{{EmailAddress: domain.EmailAddress{Address: "alice@contoso.com"}}},
		IsOnlineMeeting: true, LastModifiedAt: t0.Add(-time.Minute),
	}
}

func eventInput(ct domain.ChangeType, ev *domain.Event) Input {
	return Input{
		Change:  domain.Change{Kind: domain.KindEvent, Mailbox: "u1", ItemID: ev.ID, Type: ct},
		Mailbox: "u1", MailboxAddress: "alice@contoso.com", Event: ev, Now: t0,
	}
}

const steps = "steps:\n  - id: a\n    markRead: {messageId: x}\n"

// TestEachTriggerFiresOnItsSignalAndNotOnOthers checks every trigger kind
// against every kind of input.
func TestEachTriggerFiresOnItsSignalAndNotOnOthers(t *testing.T) {
	flagged := newMessage()
	flagged.Flag.Status = domain.FlagFlagged
	inputs := map[string]Input{
		"new message":     mailInput(domain.ChangeCreated, newMessage()),
		"updated message": mailInput(domain.ChangeUpdated, newMessage()),
		"flagged message": func() Input {
			in := mailInput(domain.ChangeUpdated, flagged)
			in.PreviousFlag = domain.FlagNotFlagged
			return in
		}(),
		"mentioning message": func() Input {
			in := mailInput(domain.ChangeCreated, newMessage())
			in.Mentioned = ptr(true)
			return in
		}(),
		"shared mailbox message": func() Input {
			in := mailInput(domain.ChangeCreated, newMessage())
			in.Mailbox, in.MailboxAddress = "s1", "support@contoso.com"
			return in
		}(),
		"created event":  eventInput(domain.ChangeCreated, newEvent()),
		"reminder":       {Signal: TriggerUpcomingEvent, Event: newEvent(), Mailbox: "u1", MailboxAddress: "alice@contoso.com", Now: t0},
		"schedule tick":  {Signal: TriggerSchedule, MailboxAddress: "alice@contoso.com", Now: t0},
		"manual request": {Signal: TriggerManual, MailboxAddress: "alice@contoso.com", ChangeKey: "req-1", Now: t0},
	}
	recipes := map[string]struct {
		trigger string
		fires   []string
	}{
		"newMail":              {"newMail: {}", []string{"new message", "mentioning message"}},
		"mailFlagged":          {"mailFlagged: {}", []string{"flagged message"}},
		"mailMentionsMe":       {"mailMentionsMe: {}", []string{"mentioning message"}},
		"sharedMailboxNewMail": {"sharedMailboxNewMail: {mailbox: Support@contoso.com}", []string{"shared mailbox message"}},
		"eventChanged":         {"eventChanged: {}", []string{"created event"}},
		"upcomingEvent":        {"upcomingEvent: {leadTime: 15m}", []string{"reminder"}},
		"schedule":             {"schedule: {every: 1h}", []string{"schedule tick"}},
		"manual":               {"manual: {}", []string{"manual request"}},
	}
	for kind, rc := range recipes {
		mb := "mailboxes:\n  users: [alice@contoso.com]\n"
		if kind == "sharedMailboxNewMail" {
			mb = ""
		}
		r := mustParse(t, "name: t\ntenant: contoso\n"+mb+"trigger:\n  "+rc.trigger+"\n"+steps)
		for name, in := range inputs {
			d := Match(r, in)
			want := contains(rc.fires, name)
			if d.Fire != want {
				t.Errorf("trigger %s on %s: Fire = %v, want %v (reason: %s)", kind, name, d.Fire, want, d.Reason())
			}
		}
	}
}

func TestTriggerEdgeCases(t *testing.T) {
	flagRecipe := mustParse(t, head+"trigger:\n  mailFlagged: {}\n"+steps)
	m := newMessage()
	m.Flag.Status = domain.FlagFlagged
	in := mailInput(domain.ChangeUpdated, m)
	in.PreviousFlag = domain.FlagFlagged
	if d := Match(flagRecipe, in); d.Fire || !strings.Contains(d.Trigger.Reason, "already flagged") {
		t.Errorf("a message flagged before the change fired mailFlagged again: %s", d.Reason())
	}
	in = mailInput(domain.ChangeCreated, m)
	if d := Match(flagRecipe, in); !d.Fire {
		t.Errorf("a new message arriving flagged did not fire mailFlagged: %s", d.Reason())
	}

	mention := mustParse(t, head+"trigger:\n  mailMentionsMe: {}\n"+steps)
	if d := Match(mention, mailInput(domain.ChangeCreated, newMessage())); d.Fire || !strings.Contains(d.Trigger.Reason, "not fetched") {
		t.Errorf("mailMentionsMe without the mention signal: Fire=%v reason %q", d.Fire, d.Trigger.Reason)
	}

	newMail := mustParse(t, head+"trigger:\n  newMail: {}\n"+steps)
	draft := newMessage()
	draft.IsDraft = true
	if d := Match(newMail, mailInput(domain.ChangeCreated, draft)); d.Fire {
		t.Errorf("a draft fired newMail")
	}
	del := mailInput(domain.ChangeDeleted, newMessage())
	del.Message = nil
	if d := Match(newMail, del); d.Fire {
		t.Errorf("a deleted message fired newMail")
	}

	upcoming := mustParse(t, head+"trigger:\n  upcomingEvent: {leadTime: 15m}\n"+steps)
	ev := newEvent()
	ev.IsCancelled = true
	if d := Match(upcoming, Input{Signal: TriggerUpcomingEvent, Event: ev, MailboxAddress: "alice@contoso.com"}); d.Fire {
		t.Errorf("a cancelled event's reminder fired")
	}
	if d := Match(upcoming, eventInput(domain.ChangeUpdated, newEvent())); d.Fire {
		t.Errorf("an event change fired upcomingEvent; only its reminder signal should")
	}
	if at, ok := ReminderAt(upcoming, newEvent()); !ok || !at.Equal(t0.Add(45*time.Minute)) {
		t.Errorf("ReminderAt = %v, %v; want 15m before the start (%v)", at, ok, t0.Add(45*time.Minute))
	}
	if _, ok := ReminderAt(upcoming, ev); ok {
		t.Errorf("ReminderAt armed a cancelled event")
	}

	disabled := mustParse(t, head+"enabled: false\ntrigger:\n  newMail: {}\n"+steps)
	if d := Match(disabled, mailInput(domain.ChangeCreated, newMessage())); d.Fire || d.Reason() != "the recipe is disabled" {
		t.Errorf("a disabled recipe: Fire=%v reason %q", d.Fire, d.Reason())
	}
}

// TestEveryFilterNarrows sets each filter once to a value the input passes
// and once to one it fails, and checks only that filter decides.
func TestEveryFilterNarrows(t *testing.T) {
	cases := []struct {
		trigger, pass, fail string
		in                  func() Input
	}{
		{"newMail", "folder: inbox", "folder: archive", nil},
		{"newMail", "folder: Inbox", "folder: Newsletters", nil},
		{"newMail", "folder: \"*\"", "", nil},
		{"newMail", "from: boss@contoso.com", "from: [ceo@contoso.com, cfo@contoso.com]", nil},
		{"newMail", "to: ALICE@contoso.com", "to: bob@contoso.com", nil},
		{"newMail", "cc: team@contoso.com", "cc: alice@contoso.com", nil},
		{"newMail", "toOrCc: [team@contoso.com]", "toOrCc: [ceo@contoso.com]", nil},
		{"newMail", "subjectContains: [budget, SYNC]", "subjectContains: budget", nil},
		{"newMail", "importance: high", "importance: low", nil},
		{"newMail", "hasAttachments: true", "hasAttachments: false", nil},
		{"newMail", "categories: [vip, Red]", "categories: Red", nil},
		{"mailFlagged", "from: boss@contoso.com", "subjectContains: budget", func() Input {
			m := newMessage()
			m.Flag.Status = domain.FlagFlagged
			return mailInput(domain.ChangeCreated, m)
		}},
		{"mailMentionsMe", "importance: high", "hasAttachments: false", func() Input {
			in := mailInput(domain.ChangeCreated, newMessage())
			in.Mentioned = ptr(true)
			return in
		}},
		{"eventChanged", "changeTypes: [created, deleted]", "changeTypes: [updated]", nil},
		{"eventChanged", "subjectContains: Sync", "subjectContains: standup", nil},
		{"eventChanged", "organizer: bob@contoso.com", "organizer: [carol@contoso.com]", nil},
		{"eventChanged", "isOnlineMeeting: true", "isOnlineMeeting: false", nil},
		{"upcomingEvent", "subjectContains: weekly", "subjectContains: monthly", nil},
		{"upcomingEvent", "organizer: bob@contoso.com", "organizer: carol@contoso.com", nil},
		{"upcomingEvent", "isOnlineMeeting: true", "isOnlineMeeting: false", nil},
	}
	for _, tc := range cases {
		in := tc.in
		if in == nil {
			switch tc.trigger {
			case "eventChanged":
				in = func() Input { return eventInput(domain.ChangeCreated, newEvent()) }
			case "upcomingEvent":
				in = func() Input {
					return Input{Signal: TriggerUpcomingEvent, Event: newEvent(), MailboxAddress: "alice@contoso.com", Now: t0}
				}
			default:
				in = func() Input { return mailInput(domain.ChangeCreated, newMessage()) }
			}
		}
		extra := ""
		if tc.trigger == "upcomingEvent" {
			extra = "leadTime: 15m, "
		}
		for _, v := range []struct {
			filter string
			want   bool
		}{{tc.pass, true}, {tc.fail, false}} {
			if v.filter == "" {
				continue
			}
			r := mustParse(t, head+"trigger:\n  "+tc.trigger+": {"+extra+v.filter+"}\n"+steps)
			d := Match(r, in())
			if d.Fire != v.want {
				t.Errorf("%s {%s}: Fire = %v, want %v (%s)", tc.trigger, v.filter, d.Fire, v.want, d.Reason())
				continue
			}
			name := strings.SplitN(v.filter, ":", 2)[0]
			found := false
			for _, f := range d.Filters {
				if f.Name == name {
					found = true
					if f.Passed != v.want {
						t.Errorf("%s {%s}: filter %s passed=%v, want %v", tc.trigger, v.filter, name, f.Passed, v.want)
					}
					if strings.Contains(f.Reason, "contoso") || strings.Contains(f.Reason, "sync") {
						t.Errorf("%s {%s}: reason %q quotes mail content", tc.trigger, v.filter, f.Reason)
					}
				}
			}
			if !found && name != "folder" {
				t.Errorf("%s {%s}: no %s check in the decision: %+v", tc.trigger, v.filter, name, d.Filters)
			}
		}
	}
}

func TestMailboxScopes(t *testing.T) {
	in := mailInput(domain.ChangeCreated, newMessage())
	in.MailboxGroups = []string{"Sales@contoso.com"}
	for _, tc := range []struct {
		mailboxes string
		want      bool
	}{
		{"users: [alice@contoso.com]", true},
		{"users: [u1]", true},
		{"users: [bob@contoso.com]", false},
		{"group: sales@contoso.com", true},
		{"group: support@contoso.com", false},
		{"all: true", true},
	} {
		r := mustParse(t, "name: t\ntenant: contoso\nmailboxes: {"+tc.mailboxes+"}\ntrigger:\n  newMail: {}\n"+steps)
		if d := Match(r, in); d.Fire != tc.want || d.Mailbox.Passed != tc.want {
			t.Errorf("mailboxes {%s}: Fire = %v, want %v (%s)", tc.mailboxes, d.Fire, tc.want, d.Reason())
		}
	}
}

func TestConditionDecidesAndReportsItsValue(t *testing.T) {
	for _, tc := range []struct {
		cond string
		want bool
	}{
		{`mail.importance == "high" && "VIP" in mail.categories`, true},
		{`now - mail.receivedAt < duration("30m")`, false},
		{`mail.from == "boss@contoso.com" && len(mail.cc) == 1`, true},
		{`trigger.mailbox == "alice@contoso.com" && recipe.name == "t"`, true},
		{`lower(mail.subject) contains "budget"`, false},
	} {
		r := mustParse(t, head+"trigger:\n  newMail: {}\ncondition: '"+tc.cond+"'\n"+steps)
		d := Match(r, mailInput(domain.ChangeCreated, newMessage()))
		if d.Condition == nil || d.Condition.Value != tc.want || d.Fire != tc.want || d.Condition.Err != "" {
			t.Errorf("condition %s: decision %+v, want value %v", tc.cond, d.Condition, tc.want)
		}
	}
	r := mustParse(t, head+"trigger:\n  eventChanged: {}\ncondition: event.subject contains 'sync'\n"+steps)
	if d := Match(r, eventInput(domain.ChangeCreated, newEvent())); !d.Fire {
		t.Errorf("event condition: 'Weekly sync' contains 'sync' should fire, got %s", d.Reason())
	}
}

func TestEnvExposesStepOutputsToLaterExpressions(t *testing.T) {
	r := mustParse(t, head+mailTrigger+`steps:
  - id: w
    wait: {for: 2d, untilReplyInConversation: true}
  - id: check
    if: "!steps.w.replied"
    then:
      - id: fwd
        forward: {to: boss@contoso.com, body: "no reply since {{ mail.receivedAt }}"}
`)
	env := NewEnv(r, mailInput(domain.ChangeCreated, newMessage()), t0)
	if err := env.SetOutput("w", WaitOutput{Replied: false, TimedOut: true}); err != nil {
		t.Fatal(err)
	}
	ok, err := r.Steps[1].If.Eval(env)
	if err != nil || !ok {
		t.Fatalf("if after a timed-out wait = %v, %v; want true", ok, err)
	}
	if err := env.SetOutput("w", WaitOutput{Replied: true}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.Steps[1].If.Eval(env); ok {
		t.Errorf("if after a reply = true, want false")
	}
	if err := env.SetOutput("w", MessageOutput{}); err == nil {
		t.Errorf("SetOutput accepted the wrong output type for a wait")
	}
	if err := env.SetOutput("nope", WaitOutput{}); err == nil {
		t.Errorf("SetOutput accepted an unknown step")
	}
}

func TestChangeKeysSeparateOccurrences(t *testing.T) {
	changed := mustParse(t, head+"trigger:\n  eventChanged: {}\n"+steps)
	a := Match(changed, eventInput(domain.ChangeUpdated, newEvent()))
	moved := newEvent()
	moved.LastModifiedAt = t0
	b := Match(changed, eventInput(domain.ChangeUpdated, moved))
	if a.RunID == "" || a.RunID == b.RunID {
		t.Errorf("two updates of an event share a run ID (%s, %s)", a.RunID, b.RunID)
	}
	again := Match(changed, eventInput(domain.ChangeUpdated, newEvent()))
	if again.RunID != a.RunID {
		t.Errorf("the same change gave a different run ID on replay")
	}
	upcoming := mustParse(t, head+"trigger:\n  upcomingEvent: {leadTime: 15m}\n"+steps)
	rem := func(ev *domain.Event) string {
		return Match(upcoming, Input{Signal: TriggerUpcomingEvent, Change: domain.Change{ItemID: ev.ID}, Event: ev}).RunID
	}
	later := newEvent()
	later.Start = later.Start.Add(time.Hour)
	if rem(newEvent()) == rem(later) {
		t.Errorf("a moved event's reminder has the same run ID; it must be re-armed under a new one")
	}
}

func TestManualRunSeesItsPayload(t *testing.T) {
	r := mustParse(t, "name: t\ntenant: contoso\ntrigger:\n  manual: {}\ncondition: input.priority == \"high\"\nsteps:\n  - id: s\n    send: {from: ops@contoso.com, to: \"{{ input.to }}\", subject: \"{{ input.subject }}\"}\n")
	for _, tc := range []struct {
		payload map[string]any
		want    bool
	}{{map[string]any{"priority": "high"}, true}, {map[string]any{"priority": "low"}, false}, {nil, false}} {
		d := Match(r, Input{Signal: TriggerManual, Payload: tc.payload, ChangeKey: "req-7", Now: t0})
		if d.Fire != tc.want {
			t.Errorf("payload %v: Fire = %v, want %v (%s)", tc.payload, d.Fire, tc.want, d.Reason())
		}
	}
}

// A decision to fire that AlreadyFired refuses no longer fires, and says
// why in its Reason, naming the earlier run; other decisions keep their
// own reason.
func TestAlreadyFiredRefusesAndExplains(t *testing.T) {
	r := mustParse(t, head+"trigger:\n  newMail: {folder: '*'}\n"+steps)
	d := Match(r, mailInput(domain.ChangeCreated, newMessage()))
	if !d.Fire || d.Reason() != "fires" || d.Duplicate != nil {
		t.Fatalf("a new message: fire %v, reason %q, duplicate %+v; want it to fire", d.Fire, d.Reason(), d.Duplicate)
	}
	d.AlreadyFired("outlookflow-recipe-earlier")
	want := "already fired for this message as run outlookflow-recipe-earlier: it was moved or copied (Graph gives a moved message a new ID)"
	if d.Fire || d.Reason() != want || fires(d) {
		t.Errorf("after AlreadyFired: fire %v (recomputed %v), reason %q; want not fired, reason %q", d.Fire, fires(d), d.Reason(), want)
	}
	if d.Duplicate == nil || d.Duplicate.Name != "duplicate" || d.Duplicate.Passed {
		t.Errorf("after AlreadyFired: duplicate check %+v, want a refused duplicate check", d.Duplicate)
	}
}
