// Package summarize turns a set of mail threads or calendar events into a
// short plain-text digest, for the recipe action summarize. Two kinds of
// summarizer implement one interface: Builtin, an offline extractive one
// (deterministic, no network: the default), and Chat, a client of an
// OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI, or a
// local server that speaks the same protocol).
//
// A Request carries what the recipe allowed to leave the store: thread
// subjects, participants and times always, message texts only when the
// recipe said includeBodies. Nothing here logs a request or a digest.
package summarize

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Kind is what a digest is of.
type Kind string

const (
	Threads Kind = "threads"
	Events  Kind = "events"
)

// BuiltinName is the name recipes use for the built-in summarizer; no
// configured endpoint may take it.
const BuiltinName = "builtin"

// Request is what to summarize: Threads for a digest of threads, Events
// for one of events.
type Request struct {
	Kind Kind
	// Scope says what the set is, for the digest's first line: "unanswered
	// threads since Mon 2 Mar 09:00 UTC".
	Scope   string
	Threads []Thread
	Events  []Event
	// Location is the zone times are written in (UTC when nil).
	Location *time.Location
}

// Thread is one conversation.
type Thread struct {
	Subject string
	// Participants are the senders' names (or addresses), in the order
	// they first wrote.
	Participants []string
	Messages     int
	Last         time.Time
	LastFrom     string
	// Unanswered is set when the last message is not the mailbox owner's.
	Unanswered bool
	// Texts are the messages' plain texts (quoted history removed), oldest
	// first; empty unless the recipe asked for bodies.
	Texts []string
}

// Event is one calendar event.
type Event struct {
	Subject     string
	Start, End  time.Time
	IsAllDay    bool
	Organizer   string
	Location    string
	Attendees   int
	IsOnline    bool
	IsCancelled bool
}

// Summarizer writes a digest of a Request.
type Summarizer interface {
	Summarize(ctx context.Context, req Request) (string, error)
}

// Error is a summarizer's failure. Retryable says whether trying again
// later may succeed (throttling, an outage, a timeout); RetryAfter is how
// long the endpoint asked to wait (0 when it did not say). Message never
// holds the API key or the request's content.
type Error struct {
	Summarizer string
	Status     int // HTTP status; 0 when there was no answer
	Retryable  bool
	RetryAfter time.Duration
	Message    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("summarizer %q: %s", e.Summarizer, e.Message)
}

// when writes a time the way a digest shows it: "Mon 2 Mar 09:00".
func when(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Mon 2 Jan 15:04")
}

// zoneName names loc for a digest ("UTC", "Europe/Paris").
func zoneName(loc *time.Location) string {
	if loc == nil {
		return "UTC"
	}
	return loc.String()
}

// describe is the one-line description of a thread or an event that both
// summarizers start from, in loc.
func (t Thread) describe(loc *time.Location) string {
	var b strings.Builder
	b.WriteString(orNone(t.Subject))
	if len(t.Participants) > 0 {
		b.WriteString(" — " + strings.Join(t.Participants, ", "))
	}
	fmt.Fprintf(&b, "; %d message%s; last %s", t.Messages, plural(t.Messages), when(t.Last, loc))
	if t.LastFrom != "" {
		b.WriteString(" from " + t.LastFrom)
	}
	if t.Unanswered {
		b.WriteString(" (unanswered)")
	}
	return b.String()
}

func (e Event) describe(loc *time.Location) string {
	var b strings.Builder
	if e.IsAllDay {
		b.WriteString(e.Start.UTC().Format("Mon 2 Jan") + " all day ")
	} else {
		if loc == nil {
			loc = time.UTC
		}
		b.WriteString(when(e.Start, loc) + "–" + e.End.In(loc).Format("15:04") + " ")
	}
	b.WriteString(orNone(e.Subject))
	var parts []string
	if e.Organizer != "" {
		parts = append(parts, "organizer "+e.Organizer)
	}
	if e.Location != "" {
		parts = append(parts, e.Location)
	}
	if e.IsOnline {
		parts = append(parts, "Teams meeting")
	}
	if e.Attendees > 0 {
		parts = append(parts, fmt.Sprintf("%d attendee%s", e.Attendees, plural(e.Attendees)))
	}
	if e.IsCancelled {
		parts = append(parts, "cancelled")
	}
	if len(parts) > 0 {
		b.WriteString(" — " + strings.Join(parts, "; "))
	}
	return b.String()
}

func orNone(subject string) string {
	if strings.TrimSpace(subject) == "" {
		return "(no subject)"
	}
	return subject
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// heading is a digest's first line.
func (r Request) heading() string {
	n := len(r.Threads)
	what := "thread"
	if r.Kind == Events {
		n, what = len(r.Events), "event"
	}
	h := fmt.Sprintf("%d %s%s", n, what, plural(n))
	if r.Scope != "" {
		h += " " + r.Scope
	}
	return h + " (times in " + zoneName(r.Location) + ")"
}
