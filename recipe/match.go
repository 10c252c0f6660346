package recipe

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/outlookflow/outlookflow/domain"
)

// Input is one thing that happened, as the caller (the sync applying a
// page, a reminder timer, a schedule, an operator) hands it to Match. It is
// built from store data; Match reads it and nothing else.
type Input struct {
	// Signal is the trigger kind for things that are not item changes:
	// TriggerSchedule, TriggerManual, and TriggerUpcomingEvent when a
	// reminder timer goes off. It is "" for an item change.
	Signal TriggerKind
	// Change is the item change the sync applied (Kind, Mailbox, ItemID,
	// Type). Unused when Signal is set, except ItemID.
	Change domain.Change
	// Mailbox is the mailbox's object ID, MailboxAddress its primary
	// address (UPN); recipes name mailboxes by either.
	Mailbox        string
	MailboxAddress string
	// MailboxMail is the mailbox's email address (Graph's user mail). A
	// shared mailbox is named by it (sharedMailboxNewMail's mailbox), and
	// its UPN often differs (e.g. under the tenant's onmicrosoft.com
	// domain).
	MailboxMail string
	// MailboxGroups are the groups (mail address or object ID) the
	// mailbox's owner belongs to, for recipes scoped to a group.
	MailboxGroups []string

	// Message is the message after the change (nil for a deleted one).
	Message *domain.Message
	// Folder is the message's folder, so folder filters can match its
	// well-known or display name; nil when unknown.
	Folder *domain.MailFolder
	// PreviousFlag is the message's flag status before this change, as the
	// store held it ("" for a message the store did not have). mailFlagged
	// fires when the status becomes "flagged" from anything else.
	PreviousFlag domain.FlagStatus
	// Mentioned is Graph's mentionsPreview.isMentioned for the message
	// (nil when it was not fetched); mailMentionsMe fires on true.
	Mentioned *bool

	// Event is the event after the change (for a deleted one, the last
	// version the store held, or nil).
	Event *domain.Event

	// Payload is a manual run's input, visible to expressions as `input`.
	Payload map[string]any
	// ChangeKey is the item's version as the sync saw it (Graph's
	// changeKey, or lastModifiedDateTime), for triggers one item can fire
	// more than once (mailFlagged, eventChanged); for a manual run, the
	// operator's request ID.
	ChangeKey string
	// Now is the time of the decision: the change's application time, the
	// schedule's or timer's fire time. It is `now` in expressions.
	Now time.Time
}

// Check is the outcome of one step of matching. Reasons never quote mail
// content (subjects, addresses): they are safe to log and print.
type Check struct {
	Name   string
	Passed bool
	Reason string
}

// ConditionResult is how the recipe's condition evaluated.
type ConditionResult struct {
	Source string
	Value  bool
	// Err is set when evaluation failed (the recipe does not fire).
	Err string
}

// Decision is the full answer to "did this recipe fire on this input, and
// why (not)", as `starter recipes why` prints it.
type Decision struct {
	Recipe  string
	Enabled bool
	// Trigger is whether what happened is the recipe's kind of trigger.
	Trigger Check
	// Mailbox is whether the item's mailbox is one the recipe watches.
	Mailbox Check
	// Filters are the trigger's filters that are set, in documentation
	// order, each evaluated even after one fails. Empty when the trigger
	// did not match.
	Filters []Check
	// Condition is nil when the recipe has none or the trigger did not
	// match.
	Condition *ConditionResult
	// RunID is the workflow ID the run has (or would have): set whenever
	// the trigger matched.
	RunID string
	// Duplicate is set, refused, when the recipe already fired for the
	// same message under another ID: a message moved or copied to another
	// folder (see AlreadyFired). Nil otherwise.
	Duplicate *Check `json:",omitempty"`
	Fire      bool
}

// Reason is a one-line summary: why it fired, or the first reason it did
// not.
func (d Decision) Reason() string {
	switch {
	case !d.Enabled:
		return "the recipe is disabled"
	case !d.Trigger.Passed:
		return d.Trigger.Reason
	case !d.Mailbox.Passed:
		return d.Mailbox.Reason
	}
	for _, f := range d.Filters {
		if !f.Passed {
			return f.Name + ": " + f.Reason
		}
	}
	if c := d.Condition; c != nil {
		if c.Err != "" {
			return "condition failed: " + c.Err
		}
		if !c.Value {
			return "condition is false"
		}
	}
	if c := d.Duplicate; c != nil && !c.Passed {
		return c.Reason
	}
	return "fires"
}

// AlreadyFired turns a decision to fire on a new message into one not to:
// the recipe already fired as run runID for the same message in the same
// mailbox (the same MessageKey) under another ID. Graph gives a message
// moved or copied to another folder a new ID there, and its delta lists
// it as created, so without this a newMail recipe on any folder would run
// again for mail it already handled, and a mailFlagged one again for a
// message that was flagged already.
func (d *Decision) AlreadyFired(runID string) {
	c := fail("duplicate", fmt.Sprintf("already fired for this message as run %s: it was moved or copied (Graph gives a moved message a new ID)", runID))
	d.Duplicate = &c
	d.Fire = false
}

// Match decides whether r fires on in. It is pure: no clock, no I/O, and
// the same input always gives the same decision.
func Match(r *Recipe, in Input) Decision {
	d := Decision{Recipe: r.Name, Enabled: r.Enabled}
	d.Trigger = matchTrigger(r, in)
	d.Mailbox = matchMailbox(r, in)
	if !d.Trigger.Passed {
		return d
	}
	d.RunID = RunID(r.Tenant, r.Name, itemID(r, in), ChangeKey(r, in))
	d.Filters = matchFilters(r, in)
	d.Condition = evalCondition(r, in)
	d.Fire = fires(d)
	return d
}

// evalCondition evaluates r's condition on in (nil when it has none).
func evalCondition(r *Recipe, in Input) *ConditionResult {
	if r.Condition == nil {
		return nil
	}
	c := &ConditionResult{Source: r.Condition.Source}
	v, err := r.Condition.Eval(NewEnv(r, in, in.Now))
	if err != nil {
		c.Err = err.Error()
	}
	c.Value = v
	return c
}

// fires: enabled, and every check, filter and the condition passed.
func fires(d Decision) bool {
	ok := d.Enabled && d.Trigger.Passed && d.Mailbox.Passed
	for _, f := range d.Filters {
		ok = ok && f.Passed
	}
	if d.Condition != nil {
		ok = ok && d.Condition.Err == "" && d.Condition.Value
	}
	if d.Duplicate != nil {
		ok = ok && d.Duplicate.Passed
	}
	return ok
}

func pass(name, reason string) Check { return Check{Name: name, Passed: true, Reason: reason} }
func fail(name, reason string) Check { return Check{Name: name, Reason: reason} }

func matchTrigger(r *Recipe, in Input) Check {
	k := r.Trigger.Kind
	const name = "trigger"
	if in.Signal != "" {
		if in.Signal != k {
			return fail(name, fmt.Sprintf("a %s signal does not fire a %s trigger", in.Signal, k))
		}
		if k == TriggerUpcomingEvent {
			switch {
			case in.Event == nil:
				return fail(name, "the reminder has no event (deleted since it was armed)")
			case in.Event.IsCancelled:
				return fail(name, "the event is cancelled")
			}
		}
		return pass(name, fmt.Sprintf("%s signal", k))
	}
	c := in.Change
	switch k {
	case TriggerSchedule, TriggerManual, TriggerUpcomingEvent:
		return fail(name, fmt.Sprintf("a %s trigger fires from its own signal, not from item changes", k))
	case TriggerEventChanged:
		if c.Kind != domain.KindEvent {
			return fail(name, fmt.Sprintf("the change is to a %s, not an event", c.Kind))
		}
		return pass(name, fmt.Sprintf("event %s", c.Type))
	}
	// The mail triggers.
	if c.Kind != domain.KindMessage {
		return fail(name, fmt.Sprintf("the change is to a %s, not a message", c.Kind))
	}
	if c.Type == domain.ChangeDeleted || in.Message == nil {
		return fail(name, "the message was deleted")
	}
	if in.Message.IsDraft {
		return fail(name, "the message is a draft")
	}
	switch k {
	case TriggerNewMail, TriggerSharedMailboxNewMail:
		if c.Type != domain.ChangeCreated {
			return fail(name, "the message is not new (it was updated)")
		}
		return pass(name, "new message")
	case TriggerMailMentionsMe:
		switch {
		case c.Type != domain.ChangeCreated:
			return fail(name, "the message is not new (it was updated)")
		case in.Mentioned == nil:
			return fail(name, "the mention signal (mentionsPreview.isMentioned) was not fetched for this message")
		case !*in.Mentioned:
			return fail(name, "the message does not mention the mailbox owner")
		}
		return pass(name, "new message that mentions the mailbox owner")
	case TriggerMailFlagged:
		switch {
		case in.Message.Flag.Status != domain.FlagFlagged:
			return fail(name, fmt.Sprintf("the flag is %s", orNone(string(in.Message.Flag.Status))))
		case in.PreviousFlag == domain.FlagFlagged:
			return fail(name, "the message was already flagged before this change")
		}
		return pass(name, "the message became flagged")
	}
	return fail(name, fmt.Sprintf("unknown trigger %s", k))
}

func orNone(s string) string {
	if s == "" {
		return "not set"
	}
	return s
}

func matchMailbox(r *Recipe, in Input) Check {
	const name = "mailbox"
	mb := r.Mailboxes
	if r.Trigger.Kind == TriggerSharedMailboxNewMail {
		if eqFold(in.MailboxMail, r.Trigger.Mailbox) || eqFold(in.MailboxAddress, r.Trigger.Mailbox) || eqFold(in.Mailbox, r.Trigger.Mailbox) {
			return pass(name, "the trigger's shared mailbox")
		}
		return fail(name, "not the trigger's shared mailbox")
	}
	switch mb.Scope {
	case ScopeAll:
		return pass(name, "all mailboxes")
	case ScopeUsers:
		for _, u := range mb.Users {
			if eqFold(u, in.MailboxAddress) || eqFold(u, in.Mailbox) {
				return pass(name, "one of the listed users")
			}
		}
		return fail(name, fmt.Sprintf("not one of the %d listed users", len(mb.Users)))
	case ScopeGroup:
		for _, g := range in.MailboxGroups {
			if eqFold(g, mb.Group) {
				return pass(name, "a member of the group")
			}
		}
		return fail(name, "not a member of the group")
	}
	return pass(name, "the recipe names no mailboxes")
}

func eqFold(a, b string) bool { return a != "" && strings.EqualFold(a, b) }

// matchFilters evaluates the set filters of the recipe's trigger.
func matchFilters(r *Recipe, in Input) []Check {
	t := r.Trigger
	var out []Check
	if t.Kind.IsMail() {
		m := in.Message
		if t.Folder != "" && t.Folder != "*" {
			out = append(out, folderCheck(t.Folder, in))
		}
		if len(t.From) > 0 {
			out = append(out, addrCheck("from", "the sender", t.From, []domain.EmailAddress{m.From}))
		}
		if len(t.To) > 0 {
			out = append(out, addrCheck("to", "a To recipient", t.To, m.To))
		}
		if len(t.Cc) > 0 {
			out = append(out, addrCheck("cc", "a Cc recipient", t.Cc, m.Cc))
		}
		if len(t.ToOrCc) > 0 {
			out = append(out, addrCheck("toOrCc", "a To or Cc recipient", t.ToOrCc, append(append([]domain.EmailAddress(nil), m.To...), m.Cc...)))
		}
		if len(t.SubjectContains) > 0 {
			out = append(out, subjectCheck(t.SubjectContains, m.Subject))
		}
		if t.Importance != "" {
			if m.Importance == t.Importance || (m.Importance == "" && t.Importance == domain.ImportanceNormal) {
				out = append(out, pass("importance", fmt.Sprintf("importance is %s", t.Importance)))
			} else {
				out = append(out, fail("importance", fmt.Sprintf("importance is %s, not %s", orNone(string(m.Importance)), t.Importance)))
			}
		}
		if t.HasAttachments != nil {
			out = append(out, boolCheck("hasAttachments", *t.HasAttachments, m.HasAttachments, "the message has attachments", "the message has no attachments"))
		}
		if len(t.Categories) > 0 {
			out = append(out, categoryCheck(t.Categories, m.Categories))
		}
		return out
	}
	if !t.Kind.IsEvent() {
		return nil
	}
	ev := in.Event
	if t.Kind == TriggerEventChanged {
		ok := false
		for _, ct := range t.ChangeTypes {
			ok = ok || ct == in.Change.Type
		}
		if ok {
			out = append(out, pass("changeTypes", fmt.Sprintf("the event was %s", in.Change.Type)))
		} else {
			out = append(out, fail("changeTypes", fmt.Sprintf("the event was %s, not %s", in.Change.Type, joinChangeTypes(t.ChangeTypes))))
		}
	}
	noEvent := func(name string) Check { return fail(name, "no event data (deleted and not in the store)") }
	if len(t.SubjectContains) > 0 {
		if ev == nil {
			out = append(out, noEvent("subjectContains"))
		} else {
			out = append(out, subjectCheck(t.SubjectContains, ev.Subject))
		}
	}
	if len(t.Organizer) > 0 {
		if ev == nil {
			out = append(out, noEvent("organizer"))
		} else {
			out = append(out, addrCheck("organizer", "the organizer", t.Organizer, []domain.EmailAddress{ev.Organizer}))
		}
	}
	if t.IsOnlineMeeting != nil {
		if ev == nil {
			out = append(out, noEvent("isOnlineMeeting"))
		} else {
			out = append(out, boolCheck("isOnlineMeeting", *t.IsOnlineMeeting, ev.IsOnlineMeeting, "the event is an online meeting", "the event is not an online meeting"))
		}
	}
	return out
}

func joinChangeTypes(cts []domain.ChangeType) string {
	s := make([]string, len(cts))
	for i, c := range cts {
		s[i] = string(c)
	}
	return strings.Join(s, " or ")
}

func folderCheck(want string, in Input) Check {
	const name = "folder"
	names := []string{in.Message.FolderID}
	if f := in.Folder; f != nil {
		names = append(names, f.ID, f.WellKnownName, f.DisplayName)
	}
	for _, n := range names {
		if eqFold(n, want) {
			return pass(name, fmt.Sprintf("the message is in %s", want))
		}
	}
	if in.Folder == nil {
		return fail(name, fmt.Sprintf("the message's folder is not known to be %s", want))
	}
	return fail(name, fmt.Sprintf("the message is not in %s", want))
}

func addrCheck(name, who string, want []string, have []domain.EmailAddress) Check {
	for _, a := range have {
		for _, w := range want {
			if eqFold(strings.TrimSpace(a.Address), w) {
				return pass(name, fmt.Sprintf("%s is one of the %d listed addresses", who, len(want)))
			}
		}
	}
	return fail(name, fmt.Sprintf("%s is not one of the %d listed addresses", who, len(want)))
}

func subjectCheck(want []string, subject string) Check {
	const name = "subjectContains"
	ls := strings.ToLower(subject)
	for _, w := range want {
		if strings.Contains(ls, strings.ToLower(w)) {
			return pass(name, fmt.Sprintf("the subject contains one of the %d strings", len(want)))
		}
	}
	return fail(name, fmt.Sprintf("the subject contains none of the %d strings", len(want)))
}

func boolCheck(name string, want, have bool, yes, no string) Check {
	reason := no
	if have {
		reason = yes
	}
	if want == have {
		return pass(name, reason)
	}
	return fail(name, reason)
}

func categoryCheck(want, have []string) Check {
	const name = "categories"
	for _, h := range have {
		for _, w := range want {
			if strings.EqualFold(h, w) {
				return pass(name, fmt.Sprintf("the message has one of the %d categories", len(want)))
			}
		}
	}
	return fail(name, fmt.Sprintf("the message has none of the %d categories", len(want)))
}

// itemID is the item a run is about: the message or event, the mailbox for
// a schedule, the request for a manual run.
func itemID(r *Recipe, in Input) string {
	switch {
	case in.Change.ItemID != "":
		return in.Change.ItemID
	case r.Trigger.Kind.IsMail() && in.Message != nil:
		return in.Message.ID
	case r.Trigger.Kind.IsEvent() && in.Event != nil:
		return in.Event.ID
	}
	if in.Mailbox != "" {
		return in.Mailbox
	}
	return in.MailboxAddress
}

// ChangeKey is the part of a run's identity that says which occurrence of
// the trigger this is, so each (recipe, item, change) fires at most once:
//
//   - newMail, sharedMailboxNewMail, mailMentionsMe: "new" (a message is
//     new once);
//   - mailFlagged: "flagged:" and the item's change key (flagging again
//     after clearing the flag is a new run);
//   - eventChanged: the change type and the item's change key (or, without
//     one, the event's last-modified time);
//   - upcomingEvent: "reminder:" and the event's start (a moved event is
//     re-armed under a new key);
//   - schedule: "schedule:" and the fire time (Now);
//   - manual: "manual:" and the operator's request ID (ChangeKey).
//
// A message moved or copied to another folder is a new item to Graph (a
// new ID, listed as created), so its key alone would fire the recipe
// again: the dispatcher refuses such a change with Decision.AlreadyFired
// when the recipe already fired for the message (by MessageKey).
func ChangeKey(r *Recipe, in Input) string {
	switch r.Trigger.Kind {
	case TriggerNewMail, TriggerSharedMailboxNewMail, TriggerMailMentionsMe:
		return "new"
	case TriggerMailFlagged:
		return "flagged:" + in.ChangeKey
	case TriggerEventChanged:
		key := in.ChangeKey
		if key == "" && in.Event != nil {
			key = in.Event.LastModifiedAt.UTC().Format(time.RFC3339Nano)
		}
		return string(in.Change.Type) + ":" + key
	case TriggerUpcomingEvent:
		if in.Event != nil {
			return "reminder:" + in.Event.Start.UTC().Format(time.RFC3339)
		}
		return "reminder:"
	case TriggerSchedule:
		return "schedule:" + in.Now.UTC().Format(time.RFC3339)
	}
	return "manual:" + in.ChangeKey
}

// ReminderAt is when an upcomingEvent recipe's reminder for ev goes off:
// LeadTime before the start. ok is false for a cancelled event or a recipe
// with another trigger; the caller re-arms when the event moves (its start,
// and so its ChangeKey, changes).
func ReminderAt(r *Recipe, ev *domain.Event) (at time.Time, ok bool) {
	if r.Trigger.Kind != TriggerUpcomingEvent || ev == nil || ev.IsCancelled {
		return time.Time{}, false
	}
	return ev.Start.Add(-r.Trigger.LeadTime), true
}

// MessageKey identifies a message of a mailbox across its moves and
// copies, which give it a new ID: a hash of its internetMessageId (RFC 5322
// Message-ID, trimmed and lower-cased), 32 hex digits, so the store keeps
// no Message-ID in clear. It is "" for a message without one (a draft).
func MessageKey(internetMessageID string) string {
	id := strings.ToLower(strings.TrimSpace(internetMessageID))
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// RunIDPrefix starts every recipe run's workflow ID.
const RunIDPrefix = "outlookflow-recipe-"

// RunID is the workflow ID of the run of recipe for (item, change) in
// tenant: a hash of the parts, so it is the same on every replay and
// carries no personal data (message IDs, addresses) in clear. Each part is
// length-prefixed before hashing, so ("ab","c") and ("a","bc") differ.
func RunID(tenant, recipe, itemID, changeKey string) string {
	h := sha256.New()
	var n [8]byte
	for _, part := range []string{tenant, recipe, itemID, changeKey} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	return RunIDPrefix + hex.EncodeToString(h.Sum(nil)[:16])
}

// ReArmedRunID is the ID of the n-th run under one run ID (n from 1): an
// upcoming-event reminder whose run was skipped — its event had moved
// away when it went off, or the recipe was off — is armed again under the
// next ID when the event is back at that start, since Temporal never
// reuses a workflow ID. The first is the run ID itself.
func ReArmedRunID(runID string, n int) string {
	if n <= 1 {
		return runID
	}
	return fmt.Sprintf("%s-%d", runID, n)
}
