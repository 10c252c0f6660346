package domain

import "time"

// EventType is Graph's event type; recurring meetings are a series master
// plus occurrences and exceptions that point at it.
type EventType string

const (
	EventSingleInstance EventType = "singleInstance"
	EventOccurrence     EventType = "occurrence"
	EventException      EventType = "exception"
	EventSeriesMaster   EventType = "seriesMaster"
)

// AttendeeType is "required", "optional" or "resource" (a room or equipment).
type AttendeeType string

const (
	AttendeeRequired AttendeeType = "required"
	AttendeeOptional AttendeeType = "optional"
	AttendeeResource AttendeeType = "resource"
)

// ResponseStatus is an attendee's (or the organizer's) answer to an invitation.
type ResponseStatus string

const (
	ResponseNone                ResponseStatus = "none"
	ResponseOrganizer           ResponseStatus = "organizer"
	ResponseTentativelyAccepted ResponseStatus = "tentativelyAccepted"
	ResponseAccepted            ResponseStatus = "accepted"
	ResponseDeclined            ResponseStatus = "declined"
	ResponseNotResponded        ResponseStatus = "notResponded"
)

// Attendee is one invitee of an event and their response.
type Attendee struct {
	EmailAddress
	Type     AttendeeType
	Response ResponseStatus
	// RespondedAt is when they answered; zero if they have not.
	RespondedAt time.Time
}

// Event is a calendar event in one mailbox's calendar view. The same meeting
// in two attendees' calendars is two events with different IDs.
type Event struct {
	ID      string
	Mailbox string
	Subject string
	// Start and End are instants (stored in UTC). StartTimeZone and
	// EndTimeZone keep the zone the organizer used (Graph's
	// originalStartTimeZone, a Windows or IANA name), which a reader needs
	// to show the meeting as it was planned and to interpret all-day events.
	Start         time.Time
	StartTimeZone string
	End           time.Time
	EndTimeZone   string
	IsAllDay      bool
	Organizer     EmailAddress
	Attendees     []Attendee
	Location      string
	// IsOnlineMeeting with OnlineMeetingJoinURL is how a Teams meeting shows.
	IsOnlineMeeting      bool
	OnlineMeetingJoinURL string
	Type                 EventType
	// SeriesMasterID links an occurrence or exception to its series; "" for
	// single instances and masters.
	SeriesMasterID string
	IsCancelled    bool
	LastModifiedAt time.Time
}
