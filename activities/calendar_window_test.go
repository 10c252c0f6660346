package activities

import (
	"testing"
	"time"
)

// The calendar window moves once a week (one from-scratch round a week,
// not one a day) and always covers the configured days around now.
func TestCalendarWindowCoversTheConfiguredDaysAndMovesWeekly(t *testing.T) {
	past, future := 30*24*time.Hour, 180*24*time.Hour
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // a Monday
	_, _, mondayKey := CalendarWindow(start, past, future)
	for h := 0; h < 14*24; h += 5 {
		now := start.Add(time.Duration(h) * time.Hour)
		from, to, key := CalendarWindow(now, past, future)
		if from.After(now.Add(-past)) || to.Before(now.Add(future)) {
			t.Fatalf("at %s the window [%s, %s) misses part of [now-30d, now+180d)", now, from, to)
		}
		if sameWeek := h < 7*24; sameWeek != (key == mondayKey) {
			t.Fatalf("at %s the key is %s; the week's key is %s", now, key, mondayKey)
		}
	}
	if _, _, key := CalendarWindow(time.Date(2026, 11, 29, 23, 59, 0, 0, time.FixedZone("PST", -8*3600)), past, future); key == mondayKey {
		t.Fatalf("Sunday 23:59 PST is Monday in UTC: want the next week's key, got %s", key)
	}
}
