package graphclient

import (
	"fmt"
	"net/url"
	"time"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
)

// calendarView delta refuses $select, so events come whole (bodies
// included); only the fields below are decoded and nothing else is kept.

type graphEvent struct {
	itemMeta
	Subject               string                 `json:"subject"`
	Start                 *graphDateTimeTimeZone `json:"start"`
	End                   *graphDateTimeTimeZone `json:"end"`
	OriginalStartTimeZone string                 `json:"originalStartTimeZone"`
	OriginalEndTimeZone   string                 `json:"originalEndTimeZone"`
	IsAllDay              bool                   `json:"isAllDay"`
	Organizer             *graphEmail            `json:"organizer"`
	Attendees             []struct {
		graphEmail
		Type   string `json:"type"`
		Status struct {
			Response string     `json:"response"`
			Time     *time.Time `json:"time"`
		} `json:"status"`
	} `json:"attendees"`
	Location *struct {
		DisplayName string `json:"displayName"`
	} `json:"location"`
	IsOnlineMeeting bool `json:"isOnlineMeeting"`
	OnlineMeeting   *struct {
		JoinURL string `json:"joinUrl"`
	} `json:"onlineMeeting"`
	Type                 string     `json:"type"`
	SeriesMasterID       string     `json:"seriesMasterId"`
	IsCancelled          bool       `json:"isCancelled"`
	LastModifiedDateTime *time.Time `json:"lastModifiedDateTime"`
}

func (e *graphEvent) domain(mailbox string) domain.Event {
	out := domain.Event{
		ID: e.ID, Mailbox: mailbox, Subject: e.Subject, Start: e.Start.time(), End: e.End.time(),
		StartTimeZone: e.OriginalStartTimeZone, EndTimeZone: e.OriginalEndTimeZone, IsAllDay: e.IsAllDay,
		Organizer: e.Organizer.domain(), IsOnlineMeeting: e.IsOnlineMeeting, Type: domain.EventType(e.Type),
		SeriesMasterID: e.SeriesMasterID, IsCancelled: e.IsCancelled,
	}
	if e.Location != nil {
		out.Location = e.Location.DisplayName
	}
	if e.OnlineMeeting != nil {
		out.OnlineMeetingJoinURL = e.OnlineMeeting.JoinURL
	}
	if e.LastModifiedDateTime != nil {
		out.LastModifiedAt = e.LastModifiedDateTime.UTC()
	}
	for _, a := range e.Attendees {
		at := domain.Attendee{EmailAddress: a.domain(), Type: domain.AttendeeType(a.Type), Response: domain.ResponseStatus(a.Status.Response)}
		// Graph sends 0001-01-01 for "not yet".
		if a.Status.Time != nil && a.Status.Time.Year() > 1 {
			at.RespondedAt = a.Status.Time.UTC()
		}
		out.Attendees = append(out.Attendees, at)
	}
	return out
}

// eventsDeltaURL starts a mailbox's calendarView delta over [from, to);
// its links carry the window.
func (c *Client) eventsDeltaURL(root string, from, to time.Time) string {
	return c.graphURL(root+"/calendarView/delta", url.Values{
		"startDateTime": {from.UTC().Format(time.RFC3339)}, "endDateTime": {to.UTC().Format(time.RFC3339)}})
}

func decodeEvents(body []byte, mailbox string) (activities.EventsDeltaPage, error) {
	what := fmt.Sprintf("calendar delta of mailbox %s", mailbox)
	return decodeDelta(body, what, []string{"#microsoft.graph.event"}, func(i int, e *graphEvent) (domain.Event, error) {
		if e.Start == nil || e.End == nil {
			return domain.Event{}, malformedItem(what, i, "has no start or end")
		}
		return e.domain(mailbox), nil
	})
}
