package graphsim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	_ "time/tzdata" // Windows zone names map to IANA zones; tests must not depend on the host's zoneinfo
)

// Outlook's dateTimeTimeZone values: {"dateTime":"2017-04-15T12:00:00.0000000","timeZone":"Pacific Standard Time"}.

const graphDateTime = "2006-01-02T15:04:05.0000000"

// windowsZones maps the Windows time zone names Outlook uses to IANA zones
// (CLDR windowsZones, territory 001), for the zones tests and the demo use.
var windowsZones = map[string]string{
	"utc":                            "UTC",
	"coordinated universal time":     "UTC",
	"pacific standard time":          "America/Los_Angeles",
	"mountain standard time":         "America/Denver",
	"central standard time":          "America/Chicago",
	"eastern standard time":          "America/New_York",
	"atlantic standard time":         "America/Halifax",
	"alaskan standard time":          "America/Anchorage",
	"hawaiian standard time":         "Pacific/Honolulu",
	"gmt standard time":              "Europe/London",
	"greenwich standard time":        "Atlantic/Reykjavik",
	"w. europe standard time":        "Europe/Berlin",
	"romance standard time":          "Europe/Paris",
	"central europe standard time":   "Europe/Budapest",
	"central european standard time": "Europe/Warsaw",
	"e. europe standard time":        "Europe/Chisinau",
	"fle standard time":              "Europe/Kiev",
	"russian standard time":          "Europe/Moscow",
	"india standard time":            "Asia/Calcutta",
	"china standard time":            "Asia/Shanghai",
	"tokyo standard time":            "Asia/Tokyo",
	"singapore standard time":        "Asia/Singapore",
	"aus eastern standard time":      "Australia/Sydney",
	"new zealand standard time":      "Pacific/Auckland",
	"e. south america standard time": "America/Sao_Paulo",
	"south africa standard time":     "Africa/Johannesburg",
	"arabian standard time":          "Asia/Dubai",
	"israel standard time":           "Asia/Jerusalem",
	"korea standard time":            "Asia/Seoul",
	"us mountain standard time":      "America/Phoenix",
	"canada central standard time":   "America/Regina",
	"sa pacific standard time":       "America/Bogota",
	"argentina standard time":        "America/Buenos_Aires",
	"se asia standard time":          "Asia/Bangkok",
	"w. australia standard time":     "Australia/Perth",
}

// loadZone resolves a Windows or IANA time zone name.
func loadZone(name string) (*time.Location, bool) {
	n := strings.TrimSpace(name)
	if n == "" {
		return nil, false
	}
	if iana, ok := windowsZones[strings.ToLower(n)]; ok {
		n = iana
	}
	loc, err := time.LoadLocation(n)
	if err != nil {
		return nil, false
	}
	return loc, true
}

// dateTimeTimeZone renders t in loc, labelled with the zone name the
// caller asked for.
func dateTimeTimeZone(t time.Time, loc *time.Location, label string) object {
	return object{{"dateTime", t.In(loc).Format(graphDateTime)}, {"timeZone", label}}
}

// parseDateTimeTimeZone reads a dateTimeTimeZone; the dateTime carries no
// offset and is read in the named zone (UTC when empty).
func parseDateTimeTimeZone(dt, tz string) (time.Time, error) {
	loc := time.UTC
	if tz != "" {
		l, ok := loadZone(tz)
		if !ok {
			return time.Time{}, fmt.Errorf("unknown time zone %q", tz)
		}
		loc = l
	}
	for _, layout := range []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, dt, loc); err == nil {
			return t.UTC(), nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, dt); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("invalid dateTime %q", dt)
}

// parseWindowBound reads calendarView's startDateTime/endDateTime: ISO
// 8601 read with its own offset, or as UTC without one (S31).
func parseWindowBound(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999Z07:00"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// preferredTimeZone reads Prefer: outlook.timezone="<name>" (S33). ok is
// false without the header or for a zone the simulator cannot resolve;
// times are then rendered in UTC.
func preferredTimeZone(r *http.Request) (loc *time.Location, label string, ok bool) {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			if !strings.EqualFold(strings.TrimSpace(k), "outlook.timezone") {
				continue
			}
			name := strings.Trim(strings.TrimSpace(val), `"`)
			if l, found := loadZone(name); found {
				return l, name, true
			}
		}
	}
	return time.UTC, "UTC", false
}
