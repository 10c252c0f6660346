package recipe

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/outlookflow/outlookflow/domain"
)

// The types below are what expressions and templates see. Field names in
// expressions are the `expr` tags. They are plain data with no methods of
// their own, so an expression cannot call into Go code.

// MailVars is `mail`: the triggering message's metadata (no body).
type MailVars struct {
	ID                string    `expr:"id"`
	Mailbox           string    `expr:"mailbox"`
	Subject           string    `expr:"subject"`
	From              string    `expr:"from"`
	FromName          string    `expr:"fromName"`
	Sender            string    `expr:"sender"`
	To                []string  `expr:"to"`
	Cc                []string  `expr:"cc"`
	Importance        string    `expr:"importance"`
	IsRead            bool      `expr:"isRead"`
	IsDraft           bool      `expr:"isDraft"`
	HasAttachments    bool      `expr:"hasAttachments"`
	Categories        []string  `expr:"categories"`
	FlagStatus        string    `expr:"flagStatus"`
	ReceivedAt        time.Time `expr:"receivedAt"`
	SentAt            time.Time `expr:"sentAt"`
	Folder            string    `expr:"folder"`
	ConversationID    string    `expr:"conversationId"`
	InternetMessageID string    `expr:"internetMessageId"`
	IsMentioned       bool      `expr:"isMentioned"`
}

// EventVars is `event`: the triggering calendar event.
type EventVars struct {
	ID              string    `expr:"id"`
	Mailbox         string    `expr:"mailbox"`
	Subject         string    `expr:"subject"`
	Organizer       string    `expr:"organizer"`
	OrganizerName   string    `expr:"organizerName"`
	Start           time.Time `expr:"start"`
	End             time.Time `expr:"end"`
	TimeZone        string    `expr:"timeZone"`
	IsAllDay        bool      `expr:"isAllDay"`
	Attendees       []string  `expr:"attendees"`
	Location        string    `expr:"location"`
	IsOnlineMeeting bool      `expr:"isOnlineMeeting"`
	JoinURL         string    `expr:"joinUrl"`
	IsCancelled     bool      `expr:"isCancelled"`
	Type            string    `expr:"type"`
	SeriesMasterID  string    `expr:"seriesMasterId"`
	ChangeType      string    `expr:"changeType"`
}

// RecipeVars is `recipe`.
type RecipeVars struct {
	Name   string `expr:"name"`
	Tenant string `expr:"tenant"`
}

// TriggerVars is `trigger`: what fired.
type TriggerVars struct {
	Kind string `expr:"kind"`
	// Mailbox is the mailbox the run acts for ("" for a schedule without
	// mailboxes).
	Mailbox    string `expr:"mailbox"`
	ChangeType string `expr:"changeType"`
}

// Step outputs, the type of `steps.<id>` per action.

// MessageOutput is what send, reply, replyAll, forward, createDraft, move
// and copy yield: the resulting message (for move and copy, its new ID).
type MessageOutput struct {
	MessageID      string `expr:"messageId"`
	ConversationID string `expr:"conversationId"`
}

// FolderOutput is what createFolder yields.
type FolderOutput struct {
	FolderID string `expr:"folderId"`
}

// EventOutput is what createEvent and updateEvent yield.
type EventOutput struct {
	EventID string `expr:"eventId"`
	JoinURL string `expr:"joinUrl"`
}

// Slot is a proposed meeting time.
type Slot struct {
	Start time.Time `expr:"start"`
	End   time.Time `expr:"end"`
}

// MeetingTimesOutput is what findMeetingTimes yields: Found with the best
// slot in Start/End, and all suggestions.
type MeetingTimesOutput struct {
	Found       bool      `expr:"found"`
	Start       time.Time `expr:"start"`
	End         time.Time `expr:"end"`
	Suggestions []Slot    `expr:"suggestions"`
}

// OnlineMeetingOutput is what createOnlineMeeting yields.
type OnlineMeetingOutput struct {
	MeetingID string `expr:"meetingId"`
	JoinURL   string `expr:"joinUrl"`
}

// ContactOutput is what createContact and updateContact yield.
type ContactOutput struct {
	ContactID string `expr:"contactId"`
}

// ChannelMessageOutput is what postChannelMessage yields.
type ChannelMessageOutput struct {
	MessageID string `expr:"messageId"`
	WebURL    string `expr:"webUrl"`
}

// SummaryOutput is what summarize yields.
type SummaryOutput struct {
	Summary string `expr:"summary"`
	// Count is how many threads or events the digest covers.
	Count int `expr:"count"`
}

// GraphOutput is what graphRequest yields.
type GraphOutput struct {
	Status int    `expr:"status"`
	Body   string `expr:"body"`
}

// WaitOutput is what a wait yields: Replied when a reply arrived in the
// conversation first, TimedOut when the time ran out first.
type WaitOutput struct {
	Replied        bool      `expr:"replied"`
	TimedOut       bool      `expr:"timedOut"`
	ReplyMessageID string    `expr:"replyMessageId"`
	RepliedAt      time.Time `expr:"repliedAt"`
}

// Env is the runtime environment of a recipe's expressions and templates:
// the trigger's data, `now`, `recipe` and the outputs of the steps run so
// far. Build it with NewEnv, record outputs with SetOutput.
type Env struct {
	r     *Recipe
	vars  map[string]any
	steps reflect.Value
}

// NewEnv builds the environment of one run of r for the item in in, at now.
// now is a parameter (not time.Now) so a workflow can pass its own clock.
func NewEnv(r *Recipe, in Input, now time.Time) *Env {
	e := &Env{r: r, vars: map[string]any{}}
	e.vars["now"] = now
	e.vars["recipe"] = RecipeVars{Name: r.Name, Tenant: r.Tenant}
	tv := TriggerVars{Kind: string(r.Trigger.Kind), Mailbox: strings.ToLower(in.MailboxAddress), ChangeType: string(in.Change.Type)}
	if tv.Mailbox == "" {
		tv.Mailbox = in.Mailbox
	}
	e.vars["trigger"] = tv
	if r.Trigger.Kind.IsMail() {
		e.vars["mail"] = mailVars(in)
	}
	if r.Trigger.Kind.IsEvent() {
		e.vars["event"] = eventVars(in)
	}
	if r.Trigger.Kind == TriggerManual {
		payload := in.Payload
		if payload == nil {
			payload = map[string]any{}
		}
		e.vars["input"] = payload
	}
	e.steps = reflect.New(r.stepsType).Elem()
	e.vars["steps"] = e.steps.Interface()
	return e
}

// SetOutput records the outputs of step id; out must be the step's output
// type (for example MessageOutput for a send step).
func (e *Env) SetOutput(id string, out any) error {
	f, ok := e.r.stepsType.FieldByName(stepField(id))
	if !ok {
		return fmt.Errorf("recipe %s has no step %q with outputs", e.r.Name, id)
	}
	v := reflect.ValueOf(out)
	if v.Type() != f.Type {
		return fmt.Errorf("step %q yields %s, not %T", id, f.Type, out)
	}
	e.steps.FieldByIndex(f.Index).Set(v)
	e.vars["steps"] = e.steps.Interface()
	return nil
}

// stepField is the Go field name of step id in the steps struct; the expr
// tag carries the step ID itself.
func stepField(id string) string { return "S_" + id }

func mailVars(in Input) MailVars {
	m := in.Message
	if m == nil {
		return MailVars{}
	}
	v := MailVars{
		ID: m.ID, Mailbox: strings.ToLower(in.MailboxAddress), Subject: m.Subject,
		From: strings.ToLower(m.From.Address), FromName: m.From.Name,
		Sender: strings.ToLower(m.Sender.Address), To: addresses(m.To), Cc: addresses(m.Cc),
		Importance: string(m.Importance), IsRead: m.IsRead, IsDraft: m.IsDraft,
		HasAttachments: m.HasAttachments, Categories: append([]string(nil), m.Categories...),
		FlagStatus: string(m.Flag.Status), ReceivedAt: m.ReceivedAt, SentAt: m.SentAt,
		Folder: folderName(in), ConversationID: m.ConversationID, InternetMessageID: m.InternetMessageID,
		IsMentioned: in.Mentioned != nil && *in.Mentioned,
	}
	if v.Mailbox == "" {
		v.Mailbox = m.Mailbox
	}
	return v
}

func eventVars(in Input) EventVars {
	ev := in.Event
	if ev == nil {
		return EventVars{}
	}
	att := make([]string, 0, len(ev.Attendees))
	for _, a := range ev.Attendees {
		att = append(att, strings.ToLower(a.Address))
	}
	v := EventVars{
		ID: ev.ID, Mailbox: strings.ToLower(in.MailboxAddress), Subject: ev.Subject,
		Organizer: strings.ToLower(ev.Organizer.Address), OrganizerName: ev.Organizer.Name,
		Start: ev.Start, End: ev.End, TimeZone: ev.StartTimeZone, IsAllDay: ev.IsAllDay,
		Attendees: att, Location: ev.Location, IsOnlineMeeting: ev.IsOnlineMeeting,
		JoinURL: ev.OnlineMeetingJoinURL, IsCancelled: ev.IsCancelled, Type: string(ev.Type),
		SeriesMasterID: ev.SeriesMasterID, ChangeType: string(in.Change.Type),
	}
	if v.Mailbox == "" {
		v.Mailbox = ev.Mailbox
	}
	return v
}

func addresses(as []domain.EmailAddress) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = strings.ToLower(a.Address)
	}
	return out
}

// folderName is the friendliest name known for the message's folder: its
// well-known name, else its display name, else its ID.
func folderName(in Input) string {
	if f := in.Folder; f != nil {
		if f.WellKnownName != "" {
			return f.WellKnownName
		}
		if f.DisplayName != "" {
			return f.DisplayName
		}
	}
	if in.Message != nil {
		return in.Message.FolderID
	}
	return ""
}

// typeEnv is the environment expressions are type-checked against: the
// same keys as a runtime Env, with zero values of the right types. visible
// is the steps struct type holding the steps earlier than the expression.
func typeEnv(kind TriggerKind, visible reflect.Type) map[string]any {
	env := map[string]any{
		"now":     time.Time{},
		"recipe":  RecipeVars{},
		"trigger": TriggerVars{},
		"steps":   reflect.New(visible).Elem().Interface(),
	}
	if kind.IsMail() {
		env["mail"] = MailVars{}
	}
	if kind.IsEvent() {
		env["event"] = EventVars{}
	}
	if kind == TriggerManual {
		env["input"] = map[string]any{}
	}
	return env
}

// envNames lists the variables in scope for a trigger kind, for messages.
func envNames(kind TriggerKind) []string {
	names := []string{}
	if kind.IsMail() {
		names = append(names, "mail")
	}
	if kind.IsEvent() {
		names = append(names, "event")
	}
	if kind == TriggerManual {
		names = append(names, "input")
	}
	return append(names, "trigger", "recipe", "now", "steps")
}

// stepOutput is one step's entry in the steps struct.
type stepOutput struct {
	id  string
	typ reflect.Type
}

// stepsStruct builds the type of `steps` holding the given outputs; the
// same list always yields the identical type, so a runtime Env's steps
// value matches what the expressions were checked against.
func stepsStruct(outs []stepOutput) reflect.Type {
	fields := make([]reflect.StructField, 0, len(outs))
	for _, o := range outs {
		fields = append(fields, reflect.StructField{
			Name: stepField(o.id), Type: o.typ, Tag: reflect.StructTag(`expr:"` + o.id + `"`),
		})
	}
	return reflect.StructOf(fields)
}

// typeLabels names the env types in messages ("mail", "steps.fwd") and
// lists their fields for suggestions.
func exprFields(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" {
			names = append(names, tag)
		}
	}
	return names
}
