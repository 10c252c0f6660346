package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// findMeetingTimes (S37; api/user-findmeetingtimes.md,
// resources/meetingtimesuggestionsresult.md):
//
//	POST /users/{id}/findMeetingTimes   (also /me/findMeetingTimes)
//
// Delegated only: an app-only token gets 403 ErrorAccessDenied (the doc's
// permission table: "Application: Not supported"). Delegated callers need
// Calendars.Read (older revisions: Calendars.Read.Shared) or a ReadWrite
// variant, and may ask only for their own mailbox.
//
// Candidates are the meetingDuration-long slots (default PT30M) starting
// on each half hour inside timeConstraint.timeSlots (default: from the
// next half hour for two days [unv]), kept within the organizer's working
// hours for activityDomain work (the default; also unknown), working hours
// on every day for personal, and any time for unrestricted. Each attendee's
// availability comes from its simulated calendar (the strongest showAs of
// the events overlapping the slot that are neither cancelled nor declined):
// attendees outside the tenant are unknown. Confidence per attendee is free
// 100, unknown 49, busy 0 (tentative and workingElsewhere count as free
// [unv]; oof as busy); a suggestion's confidence is the average (100 with no
// attendees). Slots where the organizer is busy are dropped unless
// isOrganizerOptional; suggestions below minimumAttendeePercentage (default
// 50) are dropped; the rest are ordered by confidence, then time, and the
// first maxCandidates (default 5 [unv]) returned with order 1..n.
// emptySuggestionsReason is "" when there are suggestions, else
// organizerUnavailable, attendeesUnavailableOrUnknown, attendeesUnavailable
// or unknown. Times are UTC, or the Prefer: outlook.timezone zone (echoed
// in Preference-Applied).

var permFindMeetingTimes = []string{"Calendars.Read", "Calendars.Read.Shared", "Calendars.ReadWrite", "Calendars.ReadWrite.Shared"}

type fmtAttendee struct {
	typ, address, name string
	user               *user // nil: outside the tenant (availability unknown)
}

var isoDurationPattern = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

// parseISODuration reads the Edm.Duration forms findMeetingTimes takes
// ("PT1H", "PT2H30M", "P1D").
func parseISODuration(v string) (time.Duration, bool) {
	m := isoDurationPattern.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(v)))
	if m == nil || v == "P" || strings.HasSuffix(strings.ToUpper(v), "T") {
		return 0, false
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+1] != "" {
			n, _ := strconv.Atoi(m[i+1])
			d += time.Duration(n) * unit
		}
	}
	return d, d > 0
}

// availabilityRank orders free/busy states; the strongest overlapping
// event decides an attendee's availability for a slot.
var availabilityRank = map[string]int{"free": 0, "workingElsewhere": 1, "tentative": 2, "busy": 3, "oof": 4}

func availabilityConfidence(a string) float64 {
	switch a {
	case "unknown":
		return 49
	case "busy", "oof":
		return 0
	}
	return 100
}

// availabilityOf is a mailbox's free/busy state over [from, to).
func availabilityOf(u *user, from, to time.Time) string {
	best := "free"
	for _, in := range u.allInstances() {
		e := in.ev
		if !overlaps(in, from, to) || e.isCancelled || e.responseStatus == "declined" {
			continue
		}
		show := e.showAs
		if _, known := availabilityRank[show]; !known {
			continue // unknown showAs does not block
		}
		if availabilityRank[show] > availabilityRank[best] {
			best = show
		}
	}
	return best
}

// workWindow reports whether [start, end) lies within the working hours
// (on working days unless allDays) of settings ms.
func workWindow(ms MailboxSettings, start, end time.Time, allDays bool) bool {
	wh := ms.WorkingHours
	loc, ok := loadZone(wh.TimeZone)
	if !ok {
		loc = time.UTC
	}
	ls, le := start.In(loc), end.In(loc)
	if ls.YearDay() != le.Add(-time.Nanosecond).YearDay() {
		return false
	}
	if !allDays {
		working := false
		for _, d := range wh.DaysOfWeek {
			if strings.EqualFold(d, ls.Weekday().String()) {
				working = true
			}
		}
		if !working {
			return false
		}
	}
	clock := func(s string) time.Duration {
		t, err := time.Parse("15:04:05.0000000", s)
		if err != nil {
			return 0
		}
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	day := time.Date(ls.Year(), ls.Month(), ls.Day(), 0, 0, 0, 0, loc)
	return !ls.Before(day.Add(clock(wh.StartTime))) && !le.After(day.Add(clock(wh.EndTime)))
}

func (s *Server) findMeetingTimes(g *graphRequest) {
	w, r := g.w, g.r
	if !g.p.delegated || !g.p.has(permFindMeetingTimes...) {
		errMailDenied(w, r)
		return
	}
	m, ok := readJSONBody(g, false)
	if !ok {
		return
	}
	bad := func(msg string) {
		errBadRequest(w, r, "ErrorInvalidRequest", msg)
	}
	duration := 30 * time.Minute
	if v := ciString(m, "meetingDuration"); v != "" {
		d, ok := parseISODuration(v)
		if !ok {
			errBadRequest(w, r, "RequestBodyRead", fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.Duration'.", v))
			return
		}
		duration = d
	}
	num := func(key string, def float64) (float64, bool) {
		v, ok := ciGet(m, key)
		if !ok || v == nil {
			return def, true
		}
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case string:
			s = x
		default:
			return 0, false
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return f, err == nil
	}
	minPct, ok1 := num("minimumAttendeePercentage", 50)
	maxCand, ok2 := num("maxCandidates", 5)
	organizerOptional, err1 := ciBool(m, "isOrganizerOptional", false)
	reasons, err2 := ciBool(m, "returnSuggestionReasons", false)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || maxCand < 0 || minPct < 0 || minPct > 100 {
		bad("The request has an invalid parameter value.")
		return
	}
	tc := ciObject(m, "timeConstraint")
	domain := strings.ToLower(ciString(tc, "activityDomain"))
	switch domain {
	case "", "unknown":
		domain = "work"
	case "work", "personal", "unrestricted":
	default:
		errBadRequest(w, r, "RequestBodyRead", fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'microsoft.graph.activityDomain'.", ciString(tc, "activityDomain")))
		return
	}
	var windows []fmtWindow
	for _, x := range ciArray(tc, "timeSlots") {
		o, _ := x.(map[string]any)
		st, en := ciObject(o, "start"), ciObject(o, "end")
		from, errA := parseDateTimeTimeZone(ciString(st, "dateTime"), ciString(st, "timeZone"))
		to, errB := parseDateTimeTimeZone(ciString(en, "dateTime"), ciString(en, "timeZone"))
		if errA != nil || errB != nil {
			bad("A time slot has an invalid start or end.")
			return
		}
		if to.After(from) {
			windows = append(windows, fmtWindow{from, to})
		}
	}
	if len(windows) == 0 {
		now := time.Now().UTC()
		from := now.Truncate(30 * time.Minute).Add(30 * time.Minute)
		windows = []fmtWindow{{from, from.Add(48 * time.Hour)}}
	}
	var locations []object
	for _, x := range ciArray(ciObject(m, "locationConstraint"), "locations") {
		o, _ := x.(map[string]any)
		locations = append(locations, object{{"displayName", ciString(o, "displayName")}})
	}
	if locations == nil {
		locations = []object{}
	}
	loc, label, tzOK := preferredTimeZone(r)

	s.mu.Lock()
	body, ok := s.meetingSuggestions(g, m, fmtParams{duration, minPct, int(maxCand), organizerOptional, reasons, domain, windows, locations, loc, label})
	s.mu.Unlock()
	if !ok {
		return
	}
	if tzOK {
		w.Header().Set("Preference-Applied", fmt.Sprintf("outlook.timezone=%q", label))
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}

type fmtWindow struct{ from, to time.Time }

type fmtParams struct {
	duration          time.Duration
	minPct            float64
	maxCand           int
	organizerOptional bool
	reasons           bool
	domain            string
	windows           []fmtWindow
	locations         []object
	loc               *time.Location
	label             string
}

// meetingSuggestions computes the result; callers hold s.mu.
func (s *Server) meetingSuggestions(g *graphRequest, m map[string]any, p fmtParams) (object, bool) {
	duration, minPct, maxCand, organizerOptional, reasons := p.duration, p.minPct, p.maxCand, p.organizerOptional, p.reasons
	domain, windows, locations, loc, label := p.domain, p.windows, p.locations, p.loc, p.label
	bad := func(msg string) {
		errBadRequest(g.w, g.r, "ErrorInvalidRequest", msg)
	}
	org, ok := s.mailboxFor(g)
	if !ok {
		return nil, false
	}
	t := g.p.tenant
	var atts []fmtAttendee
	for _, x := range ciArray(m, "attendees") {
		o, _ := x.(map[string]any)
		ea := ciObject(o, "emailAddress")
		addr := strings.TrimSpace(ciString(ea, "address"))
		if addr == "" {
			bad("An attendee has no email address.")
			return nil, false
		}
		typ := strings.ToLower(ciString(o, "type"))
		if typ == "" {
			typ = "required"
		}
		a := fmtAttendee{typ: typ, address: addr, name: ciString(ea, "name")}
		if u := t.userByAddress(addr); u != nil && u.mail != "" {
			a.user = u
		}
		atts = append(atts, a)
	}
	settings := org.mailboxSettingsOf()

	type suggestion struct {
		start      time.Time
		confidence float64
		orgAvail   string
		avail      []string
	}
	var out []suggestion
	candidates, orgBusy, anyUnknown := 0, 0, false
	seen := map[int64]bool{}
	for _, win := range windows {
		first := win.from.Truncate(30 * time.Minute)
		if first.Before(win.from) {
			first = first.Add(30 * time.Minute)
		}
		for st := first; !st.Add(duration).After(win.to); st = st.Add(30 * time.Minute) {
			en := st.Add(duration)
			if seen[st.Unix()] {
				continue
			}
			seen[st.Unix()] = true
			if domain != "unrestricted" && !workWindow(settings, st, en, domain == "personal") {
				continue
			}
			candidates++
			sg := suggestion{start: st, orgAvail: availabilityOf(org, st, en)}
			if !organizerOptional && availabilityConfidence(sg.orgAvail) == 0 {
				orgBusy++
				continue
			}
			total := 0.0
			for _, a := range atts {
				av := "unknown"
				if a.user != nil {
					av = availabilityOf(a.user, st, en)
				} else {
					anyUnknown = true
				}
				sg.avail = append(sg.avail, av)
				total += availabilityConfidence(av)
			}
			sg.confidence = 100
			if len(atts) > 0 {
				sg.confidence = total / float64(len(atts))
			}
			if sg.confidence < minPct {
				continue
			}
			out = append(out, sg)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].confidence != out[j].confidence {
			return out[i].confidence > out[j].confidence
		}
		return out[i].start.Before(out[j].start)
	})
	if len(out) > maxCand {
		out = out[:maxCand]
	}
	value := make([]object, 0, len(out))
	for i, sg := range out {
		aa := make([]object, 0, len(atts))
		for k, a := range atts {
			aa = append(aa, object{{"availability", sg.avail[k]}, {"attendee", object{{"type", a.typ}, {"emailAddress", object{{"address", a.address}}}}}})
		}
		item := object{{"confidence", sg.confidence}, {"order", i + 1}, {"organizerAvailability", sg.orgAvail}}
		if reasons {
			reason := "Suggested because it is one of the nearest times when all attendees are available."
			if sg.confidence < 100 {
				reason = "Suggested because it is one of the nearest times when most attendees are available."
			}
			item = append(item, kv{"suggestionReason", reason})
		}
		item = append(item, kv{"attendeeAvailability", aa}, kv{"locations", locations},
			kv{"meetingTimeSlot", object{{"start", dateTimeTimeZone(sg.start, loc, label)}, {"end", dateTimeTimeZone(sg.start.Add(duration), loc, label)}}})
		value = append(value, item)
	}
	reason := ""
	if len(value) == 0 {
		switch {
		case candidates == 0:
			reason = "unknown"
		case orgBusy == candidates:
			reason = "organizerUnavailable"
		case anyUnknown:
			reason = "attendeesUnavailableOrUnknown"
		default:
			reason = "attendeesUnavailable"
		}
	}
	return object{
		{"@odata.context", contextURL(g.r, "microsoft.graph.meetingTimeSuggestionsResult")},
		{"emptySuggestionsReason", reason},
		{"meetingTimeSuggestions", value},
	}, true
}
