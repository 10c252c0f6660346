package activities

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/outlookflow/outlookflow/recipe"
)

// findMeetingTimes asks Graph for times the mailbox's owner and the
// attendees can meet (POST /users/{id}/findMeetingTimes) and exposes them
// as the step's outputs: found, the best slot's start and end, and every
// suggestion in Graph's order (by confidence, then time). It only reads,
// so a retry simply asks again.
//
// Graph answers it only to delegated callers (graph-behavior §37: "with an
// app-only token it gives 403"), so the step refuses to run on an
// app-only connection; the recipe is already refused when it is loaded
// for an app-only tenant, which this guards against a tenant switched
// since.
func (x *executor) findMeetingTimes(ctx context.Context) (any, string, error) {
	if x.creds.AuthMode != AuthDelegated {
		return nil, "", stepFailed("step %s: findMeetingTimes needs a delegated connection: Graph has no application permission for it; connect tenant %s with authMode delegated, or remove the step", x.step().ID, x.rc.run.Tenant)
	}
	mailbox, err := x.target()
	if err != nil {
		return nil, "", err
	}
	addrs, err := x.list("attendees")
	if err != nil {
		return nil, "", err
	}
	if len(addrs) == 0 {
		return nil, "", stepFailed("step %s: no attendees: attendees rendered empty", x.step().ID)
	}
	duration := x.step().Param("duration").Dur
	var attendees []map[string]any
	for _, a := range addrs {
		attendees = append(attendees, map[string]any{"type": "required", "emailAddress": map[string]string{"address": a}})
	}
	body := map[string]any{"attendees": attendees, "meetingDuration": isoDuration(duration)}
	if p := x.step().Param("within"); p != nil {
		// From now, not from the trigger: a run that waited must not be
		// offered times already past.
		from := x.a.now().UTC().Truncate(time.Minute)
		body["timeConstraint"] = map[string]any{
			"activityDomain": "work",
			"timeSlots":      []map[string]any{{"start": graphDateTime(from), "end": graphDateTime(from.Add(p.Dur))}},
		}
	}
	var answer struct {
		EmptySuggestionsReason string `json:"emptySuggestionsReason"`
		Suggestions            []struct {
			Confidence float64 `json:"confidence"`
			Slot       struct {
				Start graphDT `json:"start"`
				End   graphDT `json:"end"`
			} `json:"meetingTimeSlot"`
		} `json:"meetingTimeSuggestions"`
	}
	if err := x.call(ctx, mailbox, http.MethodPost, userPath(mailbox, "findMeetingTimes"), body, &answer); err != nil {
		return nil, "", err
	}
	loc := time.UTC
	if tz := x.str("timeZone"); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	out := recipe.MeetingTimesOutput{Suggestions: []recipe.Slot{}}
	for i, s := range answer.Suggestions {
		start, err1 := s.Slot.Start.instant()
		end, err2 := s.Slot.End.instant()
		if err1 != nil || err2 != nil {
			return nil, "", &GraphError{Kind: KindMalformed, Message: fmt.Sprintf("findMeetingTimes: suggestion %d has an unreadable meetingTimeSlot (%v)", i+1, firstError(err1, err2))}
		}
		out.Suggestions = append(out.Suggestions, recipe.Slot{Start: start.In(loc), End: end.In(loc)})
	}
	if len(out.Suggestions) == 0 {
		return out, fmt.Sprintf("no time found (%s)", cmp.Or(answer.EmptySuggestionsReason, "Graph gave no reason")), nil
	}
	out.Found, out.Start, out.End = true, out.Suggestions[0].Start, out.Suggestions[0].End
	return out, fmt.Sprintf("found %d times", len(out.Suggestions)), nil
}

// instant reads Graph's dateTimeTimeZone: a wall time in a zone ("UTC"
// unless a Prefer: outlook.timezone header asked for another, which the
// executor never sends).
func (d graphDT) instant() (time.Time, error) {
	loc := time.UTC
	if d.TimeZone != "" && !strings.EqualFold(d.TimeZone, "UTC") {
		l, err := time.LoadLocation(d.TimeZone)
		if err != nil {
			return time.Time{}, fmt.Errorf("time zone %q: %w", d.TimeZone, err)
		}
		loc = l
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.9999999", d.DateTime, loc)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// isoDuration writes d as the ISO 8601 duration Graph's Edm.Duration
// takes: PT1H30M, PT45M, PT48H.
func isoDuration(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	out := "PT"
	if h > 0 {
		out += fmt.Sprintf("%dH", h)
	}
	if m > 0 {
		out += fmt.Sprintf("%dM", m)
	}
	if s > 0 || out == "PT" {
		out += fmt.Sprintf("%dS", s)
	}
	return out
}
