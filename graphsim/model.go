package graphsim

import "time"

// Simulator state beyond users and mail: groups, calendar events, contacts
// and mailbox settings. Everything is guarded by Server.mu.

type group struct {
	id, displayName, description, mail, mailNickname, visibility string
	mailEnabled, securityEnabled                                 bool
	groupTypes                                                   []string
	members                                                      []memberRef

	createdSeq int            // changeSeq when added (0: seeded)
	propSeq    map[string]int // property -> changeSeq of its last change
	memberLog  []memberChange // membership changes after seeding, oldest first
}

// memberRef is a directory object in a group: a user or a nested group.
type memberRef struct {
	id      string
	isGroup bool
}

type memberChange struct {
	ref     memberRef
	removed bool
	seq     int
}

func (g *group) hasMember(id string) bool {
	for _, m := range g.members {
		if m.id == id {
			return true
		}
	}
	return false
}

type attendee struct {
	who      recipient
	typ      string    // required | optional | resource
	response string    // none | organizer | tentativelyAccepted | accepted | declined | notResponded
	at       time.Time // when the response was recorded (zero: never)
}

// recurrence is a series' pattern: daily or weekly, every interval days or
// weeks, for count occurrences (a numbered range; count 0 = no end, capped
// at maxOccurrences).
type recurrence struct {
	pattern  string // daily | weekly
	interval int
	days     []time.Weekday // weekly; empty = the start's weekday
	count    int
}

const maxOccurrences = 520

type event struct {
	id, iCalUID, subject, bodyText, location string
	organizer                                recipient
	attendees                                []attendee
	start, end                               time.Time // UTC
	timeZone                                 string    // originalStartTimeZone (Windows name)
	isAllDay, isOnline, isCancelled          bool
	joinURL                                  string
	kind                                     string // singleInstance | seriesMaster | exception
	seriesMasterID                           string // exceptions
	originalStart                            time.Time
	recur                                    *recurrence    // series masters
	removedOccurrences                       map[int64]bool // masters: occurrence original starts (unix) deleted or cancelled
	showAs, importance, sensitivity          string
	responseStatus                           string // this mailbox's response: organizer, accepted, none, ...
	createdAt, modifiedAt                    time.Time
	changeVersion                            int
	createdSeq, changedSeq                   int

	// Written through Graph (POST/PATCH .../events); addEvent sets the
	// defaults Outlook gives a new event.
	bodyHTML              bool   // bodyText holds HTML
	endTimeZone           string // originalEndTimeZone; "" = timeZone
	transactionID         string // organizer's copy, when the app set one
	categories            []string
	reminderMinutes       int
	reminderOn            bool
	responseRequested     bool
	allowNewTimeProposals bool
	hideAttendees         bool
	onlineProvider        string    // teamsForBusiness | skypeForBusiness | skypeForConsumer | unknown
	respondedAt           time.Time // when this mailbox's response was recorded
}
