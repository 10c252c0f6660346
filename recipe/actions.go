package recipe

import (
	"reflect"

	"github.com/outlookflow/outlookflow/internal/permissions"
)

// paramKind is how a parameter's YAML value is decoded.
type paramKind int

const (
	kText     paramKind = iota // a template
	kList                      // one template or a list of them (recipients)
	kEnum                      // one of enum
	kBool                      // true or false
	kDuration                  // 90s, 15m, 2h, 2d
	kInt                       // a whole number
	kTime                      // a template giving an RFC 3339 date-time
	kStrings                   // a list of plain strings
	kTimeZone                  // an IANA time zone name
	kPerms                     // {application: [...], delegated: [...]}
)

type paramSpec struct {
	name     string
	kind     paramKind
	required bool
	enum     []string
}

// itemContext says which item an action works on when no ID is given.
type itemContext int

const (
	// onMessage: the triggering message unless messageId is set.
	onMessage itemContext = iota + 1
	// onEvent: the triggering event unless eventId is set.
	onEvent
)

// actionSpec declares an action: its parameters, the Graph permissions it
// needs (application and delegated, least privileged first; graph-behavior
// §8) and the type of its outputs.
type actionSpec struct {
	name   string
	params []paramSpec
	app    []permissions.Requirement
	// appUnsupported, when set, is why the action cannot run app-only.
	appUnsupported string
	delegated      []permissions.Requirement
	// note is said alongside the permission ("plus an application access
	// policy…"), for `starter scopes`.
	appNote string
	output  reflect.Type
	item    itemContext
	// oneOf lists parameter groups of which at least one must be set.
	oneOf [][]string
}

func req(p string, higher ...string) permissions.Requirement {
	return permissions.Requirement{Permission: p, SatisfiedBy: higher}
}

func reqs(rs ...permissions.Requirement) []permissions.Requirement { return rs }

// Permissions the actions need beyond the sync's feature table, from
// graph-behavior.md §8.
var (
	permMailSend       = req("Mail.Send")
	permMailSendShared = req("Mail.Send.Shared")
	permMailReadWrite  = req("Mail.ReadWrite")
	permCalendarsRead  = req("Calendars.Read", "Calendars.ReadWrite")
	permCalendarsRW    = req("Calendars.ReadWrite")
	permOnlineMtgApp   = req("OnlineMeetings.ReadWrite.All")
	permOnlineMtgDel   = req("OnlineMeetings.ReadWrite")
	permContactsRW     = req("Contacts.ReadWrite")
	permMailboxSetRW   = req("MailboxSettings.ReadWrite")
	permChannelSend    = req("ChannelMessage.Send", "Group.ReadWrite.All")
	permMailReadShared = req("Mail.Read.Shared", "Mail.ReadWrite.Shared")
	permMailRWShared   = req("Mail.ReadWrite.Shared")
	// permSendKeyed is what sending, replying and forwarding need: each
	// goes through a draft tagged with the step's key (create draft:
	// Mail.ReadWrite), looked up and then sent (Mail.Send), so a retry
	// never sends twice.
	permSendKeyed = reqs(permMailSend, permMailReadWrite)
)

var (
	bodyType   = paramSpec{name: "bodyType", kind: kEnum, enum: []string{"text", "html"}}
	importance = paramSpec{name: "importance", kind: kEnum, enum: []string{"low", "normal", "high"}}
	messageID  = paramSpec{name: "messageId", kind: kText}
	eventID    = paramSpec{name: "eventId", kind: kText}
	mailbox    = paramSpec{name: "mailbox", kind: kText}
)

func p(name string, kind paramKind) paramSpec { return paramSpec{name: name, kind: kind} }

func must(name string, kind paramKind) paramSpec {
	return paramSpec{name: name, kind: kind, required: true}
}

var (
	outNone     = reflect.TypeOf(struct{}{})
	outMessage  = reflect.TypeOf(MessageOutput{})
	outFolder   = reflect.TypeOf(FolderOutput{})
	outEvent    = reflect.TypeOf(EventOutput{})
	outTimes    = reflect.TypeOf(MeetingTimesOutput{})
	outMeeting  = reflect.TypeOf(OnlineMeetingOutput{})
	outContact  = reflect.TypeOf(ContactOutput{})
	outChannel  = reflect.TypeOf(ChannelMessageOutput{})
	outSummary  = reflect.TypeOf(SummaryOutput{})
	outGraph    = reflect.TypeOf(GraphOutput{})
	outWait     = reflect.TypeOf(WaitOutput{})
	contactArgs = []paramSpec{p("displayName", kText), p("givenName", kText), p("surname", kText), p("emails", kList),
		p("companyName", kText), p("jobTitle", kText), p("mobilePhone", kText), p("businessPhones", kList)}
)

func mailWrite(name string, out reflect.Type, params ...paramSpec) *actionSpec {
	return &actionSpec{name: name, params: append([]paramSpec{mailbox, messageID}, params...),
		app: reqs(permMailReadWrite), delegated: reqs(permMailReadWrite), output: out, item: onMessage}
}

func calendarWrite(name string, out reflect.Type, params ...paramSpec) *actionSpec {
	return &actionSpec{name: name, params: append([]paramSpec{mailbox, eventID}, params...),
		app: reqs(permCalendarsRW), delegated: reqs(permCalendarsRW), output: out, item: onEvent}
}

var sendParams = []paramSpec{p("from", kText), p("to", kList), p("cc", kList), p("bcc", kList), p("replyTo", kList),
	p("subject", kText), p("body", kText), bodyType, importance}

// actionSpecs is every action, in the order the documentation lists them.
var actionSpecs = []*actionSpec{
	{name: "send", params: markRequired(sendParams, "to", "subject"),
		app: permSendKeyed, delegated: permSendKeyed, output: outMessage},
	{name: "reply", params: []paramSpec{mailbox, messageID, p("body", kText), bodyType},
		app: permSendKeyed, delegated: permSendKeyed, output: outMessage, item: onMessage},
	{name: "replyAll", params: []paramSpec{mailbox, messageID, p("body", kText), bodyType},
		app: permSendKeyed, delegated: permSendKeyed, output: outMessage, item: onMessage},
	{name: "forward", params: []paramSpec{mailbox, messageID, must("to", kList), p("cc", kList), p("body", kText), bodyType},
		app: permSendKeyed, delegated: permSendKeyed, output: outMessage, item: onMessage},
	{name: "createDraft", params: sendParams,
		app: reqs(permMailReadWrite), delegated: reqs(permMailReadWrite), output: outMessage},
	mailWrite("move", outMessage, must("folder", kText)),
	mailWrite("copy", outMessage, must("folder", kText)),
	mailWrite("markRead", outNone),
	mailWrite("markUnread", outNone),
	mailWrite("flag", outNone, p("dueIn", kDuration)),
	mailWrite("unflag", outNone),
	mailWrite("setCategories", outNone, must("categories", kStrings),
		paramSpec{name: "mode", kind: kEnum, enum: []string{"add", "remove", "replace"}}),
	mailWrite("delete", outNone),
	{name: "createFolder", params: []paramSpec{mailbox, must("name", kText), p("parent", kText)},
		app: reqs(permMailReadWrite), delegated: reqs(permMailReadWrite), output: outFolder},

	{name: "createEvent", params: []paramSpec{mailbox, must("subject", kText), must("start", kTime), p("end", kTime),
		p("duration", kDuration), p("timeZone", kTimeZone), p("attendees", kList), p("optionalAttendees", kList),
		p("location", kText), p("isOnlineMeeting", kBool), p("body", kText), bodyType},
		app: reqs(permCalendarsRW), delegated: reqs(permCalendarsRW), output: outEvent, oneOf: [][]string{{"end", "duration"}}},
	calendarWrite("updateEvent", outEvent, p("subject", kText), p("start", kTime), p("end", kTime), p("timeZone", kTimeZone),
		p("attendees", kList), p("location", kText), p("isOnlineMeeting", kBool), p("body", kText), bodyType),
	calendarWrite("cancelEvent", outNone, p("comment", kText)),
	calendarWrite("respondToEvent", outNone,
		paramSpec{name: "response", kind: kEnum, required: true, enum: []string{"accept", "tentative", "decline"}},
		p("comment", kText), p("sendResponse", kBool)),
	{name: "findMeetingTimes", params: []paramSpec{mailbox, must("attendees", kList), must("duration", kDuration),
		p("within", kDuration), p("timeZone", kTimeZone)},
		appUnsupported: "Graph's findMeetingTimes has no application permission",
		delegated:      reqs(permCalendarsRead), output: outTimes},
	{name: "createOnlineMeeting", params: []paramSpec{mailbox, must("subject", kText), must("start", kTime), p("end", kTime),
		p("duration", kDuration), p("attendees", kList)},
		app: reqs(permOnlineMtgApp), appNote: "plus an application access policy granted to the organizer (New-CsApplicationAccessPolicy)",
		delegated: reqs(permOnlineMtgDel), output: outMeeting, oneOf: [][]string{{"end", "duration"}}},

	{name: "createContact", params: append([]paramSpec{mailbox}, contactArgs...),
		app: reqs(permContactsRW), delegated: reqs(permContactsRW), output: outContact,
		oneOf: [][]string{{"displayName", "givenName", "surname", "emails"}}},
	{name: "updateContact", params: append([]paramSpec{mailbox, must("contactId", kText)}, contactArgs...),
		app: reqs(permContactsRW), delegated: reqs(permContactsRW), output: outContact,
		oneOf: [][]string{{"displayName", "givenName", "surname", "emails", "companyName", "jobTitle", "mobilePhone", "businessPhones"}}},

	{name: "setAutomaticReplies", params: []paramSpec{mailbox,
		paramSpec{name: "status", kind: kEnum, required: true, enum: []string{"disabled", "alwaysEnabled", "scheduled"}},
		paramSpec{name: "externalAudience", kind: kEnum, enum: []string{"none", "contactsOnly", "all"}},
		p("internalMessage", kText), p("externalMessage", kText), p("start", kTime), p("end", kTime)},
		app: reqs(permMailboxSetRW), delegated: reqs(permMailboxSetRW), output: outNone},

	{name: "postChannelMessage", params: []paramSpec{must("team", kText), must("channel", kText), p("subject", kText),
		must("body", kText), bodyType},
		appUnsupported: "Graph only allows posting channel messages app-only for migration (Teamwork.Migrate.All)",
		delegated:      reqs(permChannelSend), output: outChannel},

	{name: "summarize", params: []paramSpec{mailbox,
		paramSpec{name: "of", kind: kEnum, required: true, enum: []string{"threads", "events"}},
		p("since", kDuration), p("within", kDuration), p("folder", kText), p("unansweredOnly", kBool),
		p("includeBodies", kBool), p("maxItems", kInt), p("summarizer", kText)},
		output: outSummary},

	{name: "graphRequest", params: []paramSpec{
		paramSpec{name: "method", kind: kEnum, required: true, enum: []string{"GET", "POST", "PATCH", "PUT", "DELETE"}},
		must("path", kText), p("body", kText), must("permissions", kPerms)},
		output: outGraph},
}

// waitSpec declares the wait step's parameters (it is not an action, but
// its keys are checked the same way).
var waitSpec = &actionSpec{name: "wait", params: []paramSpec{p("for", kDuration), p("untilReplyInConversation", kBool),
	p("conversationId", kText)}, output: outWait, oneOf: [][]string{{"for", "untilReplyInConversation"}}}

var actionsByName = func() map[string]*actionSpec {
	m := map[string]*actionSpec{}
	for _, a := range actionSpecs {
		m[a.name] = a
	}
	return m
}()

// Actions lists the action names, in documentation order.
func Actions() []string {
	names := make([]string, len(actionSpecs))
	for i, a := range actionSpecs {
		names[i] = a.name
	}
	return names
}

func markRequired(ps []paramSpec, names ...string) []paramSpec {
	out := append([]paramSpec(nil), ps...)
	for i := range out {
		for _, n := range names {
			if out[i].name == n {
				out[i].required = true
			}
		}
	}
	return out
}

func (a *actionSpec) param(name string) (paramSpec, bool) {
	for _, ps := range a.params {
		if ps.name == name {
			return ps, true
		}
	}
	return paramSpec{}, false
}

func (a *actionSpec) paramNames() []string {
	names := make([]string, len(a.params))
	for i, ps := range a.params {
		names[i] = ps.name
	}
	return names
}
