package domain

import "time"

// MailboxSettings is the state of a mailbox's settings that scheduling and
// recipes read. Automatic-reply message texts are deliberately absent: they
// are content, and the state is all a recipe needs ("is this person away?").
type MailboxSettings struct {
	Mailbox string
	// TimeZone is the mailbox's preferred zone (a Windows or IANA name).
	TimeZone         string
	WorkingHours     WorkingHours
	AutomaticReplies AutomaticReplies
}

// WorkingHours are the days and hours a person works, in TimeZone.
type WorkingHours struct {
	// Days are lower-case English day names ("monday"…), as Graph sends them.
	Days []string
	// StartTime and EndTime are times of day, "08:00:00".
	StartTime string
	EndTime   string
	TimeZone  string
}

// AutomaticRepliesStatus is "disabled", "alwaysEnabled" or "scheduled".
type AutomaticRepliesStatus string

const (
	AutoRepliesDisabled      AutomaticRepliesStatus = "disabled"
	AutoRepliesAlwaysEnabled AutomaticRepliesStatus = "alwaysEnabled"
	AutoRepliesScheduled     AutomaticRepliesStatus = "scheduled"
)

// AutomaticReplies is whether out-of-office replies are on, and when.
type AutomaticReplies struct {
	Status AutomaticRepliesStatus
	// ExternalAudience is "none", "contactsOnly" or "all".
	ExternalAudience string
	// ScheduledStart and ScheduledEnd bound a "scheduled" status; zero
	// otherwise.
	ScheduledStart time.Time
	ScheduledEnd   time.Time
}
