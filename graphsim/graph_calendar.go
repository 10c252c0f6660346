package graphsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// calendarView and its delta (S31-S33; api/user-list-calendarview.md,
// api/event-delta.md, concepts/delta-query-events.md):
//
//	GET /users/{id}/calendarView?startDateTime=..&endDateTime=..
//	GET /users/{id}/calendarView/delta?startDateTime=..&endDateTime=..   (also delta())
//
// Both need startDateTime and endDateTime (400 ErrorInvalidParameter
// otherwise); values are read with their own offset, UTC without one.
// calendarView returns single instances, occurrences and exceptions
// overlapping the window, earliest first, 10 a page by default ($top
// 1-1000, $skip nextLinks), honouring $select (createdDateTime and
// lastModifiedDateTime cannot be selected and are left out). The delta
// pages by Prefer: odata.maxpagesize (default 10); the window rides in the
// tokens; $select, $expand, $filter, $orderby and $search are refused with
// 400 (the docs: "You cannot use $select"); changes after a deltaLink come
// back in full, and deletions in the window plus changes outside it as
// {"@odata.type":"#microsoft.graph.event","id","@removed":{"reason":"deleted"}}.
// Prefer: outlook.timezone renders start/end in that zone and is echoed in
// Preference-Applied; otherwise times are UTC.

var (
	permCalendarRead = []string{"Calendars.ReadBasic", "Calendars.ReadBasic.All", "Calendars.Read", "Calendars.ReadWrite"}
	permCalendarBody = []string{"Calendars.Read", "Calendars.ReadWrite"}
)

// eventProps are the event properties in the order Graph returns them.
var eventProps = []string{
	"createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "transactionId", "originalStartTimeZone",
	"originalEndTimeZone", "iCalUId", "reminderMinutesBeforeStart", "isReminderOn", "hasAttachments", "subject",
	"bodyPreview", "importance", "sensitivity", "isAllDay", "isCancelled", "isOrganizer", "responseRequested",
	"seriesMasterId", "showAs", "type", "webLink", "onlineMeetingUrl", "isOnlineMeeting", "onlineMeetingProvider",
	"allowNewTimeProposals", "isDraft", "hideAttendees", "responseStatus", "body", "start", "end", "location",
	"locations", "recurrence", "attendees", "organizer", "onlineMeeting",
}

var eventSelectable = append(append([]string(nil), eventProps...), "id", "originalStart")

var eventBodyProps = map[string]bool{"body": true, "bodyPreview": true}

type eventRender struct {
	props    []string
	withBody bool
	loc      *time.Location
	tzLabel  string
	bodyType string
}

func (in instance) changeKey() string {
	return (&message{id: in.id, changeVersion: in.ev.changeVersion}).changeKey()
}

func eventJSON(in instance, rr eventRender) object {
	e := in.ev
	o := object{{"@odata.etag", `W/"` + in.changeKey() + `"`}, {"id", in.id}}
	sel := map[string]bool{}
	for _, p := range rr.props {
		sel[p] = true
	}
	for _, p := range eventSelectable {
		if p == "id" || (len(rr.props) > 0 && !sel[p]) || (len(rr.props) == 0 && p == "originalStart") {
			continue
		}
		if len(rr.props) > 0 && (p == "createdDateTime" || p == "lastModifiedDateTime") {
			continue // not selectable (api/user-list-calendarview.md)
		}
		if eventBodyProps[p] && !rr.withBody {
			continue
		}
		o = append(o, kv{p, eventValue(in, e, p, rr)})
	}
	return o
}

func eventValue(in instance, e *event, p string, rr eventRender) any {
	switch p {
	case "createdDateTime":
		return graphTime(e.createdAt)
	case "lastModifiedDateTime":
		return graphTime(e.modifiedAt)
	case "changeKey":
		return in.changeKey()
	case "categories":
		return nonNil(e.categories)
	case "locations":
		if e.location != "" {
			return []object{{{"displayName", e.location}, {"locationType", "default"}, {"uniqueIdType", "unknown"}}}
		}
		return []string{}
	case "transactionId":
		return nullIfEmpty(e.transactionID)
	case "onlineMeetingUrl":
		return nil
	case "originalStartTimeZone":
		return e.timeZone
	case "originalEndTimeZone":
		if e.endTimeZone != "" {
			return e.endTimeZone
		}
		return e.timeZone
	case "iCalUId":
		return e.iCalUID
	case "reminderMinutesBeforeStart":
		return e.reminderMinutes
	case "isReminderOn":
		return e.reminderOn
	case "responseRequested":
		return e.responseRequested
	case "allowNewTimeProposals":
		return e.allowNewTimeProposals
	case "hideAttendees":
		return e.hideAttendees
	case "hasAttachments", "isDraft":
		return false
	case "subject":
		return e.subject
	case "bodyPreview":
		return preview(e.bodyMessage().textBody())
	case "importance":
		return e.importance
	case "sensitivity":
		return e.sensitivity
	case "isAllDay":
		return e.isAllDay
	case "isCancelled":
		return e.isCancelled
	case "isOrganizer":
		return e.responseStatus == "organizer"
	case "seriesMasterId":
		switch in.kind {
		case "occurrence":
			return e.id
		case "exception":
			return e.seriesMasterID
		}
		return nil
	case "showAs":
		return e.showAs
	case "type":
		return in.kind
	case "webLink":
		return "https://outlook.office365.com/owa/?itemid=" + url.QueryEscape(in.id) + "&exvsurl=1&path=/calendar/item"
	case "isOnlineMeeting":
		return e.isOnline
	case "onlineMeetingProvider":
		if e.onlineProvider == "" {
			return "unknown"
		}
		return e.onlineProvider
	case "responseStatus":
		return object{{"response", e.responseStatus}, {"time", responseTime(e.respondedAt)}}
	case "body":
		if rr.bodyType == "text" {
			return object{{"contentType", "text"}, {"content", e.bodyMessage().textBody()}}
		}
		return object{{"contentType", "html"}, {"content", e.bodyMessage().htmlBody()}}
	case "start":
		return dateTimeTimeZone(in.start, rr.loc, rr.tzLabel)
	case "end":
		return dateTimeTimeZone(in.end, rr.loc, rr.tzLabel)
	case "originalStart":
		if in.kind == "singleInstance" {
			return nil
		}
		return graphTime(in.origStart)
	case "location":
		return object{{"displayName", e.location}, {"locationType", "default"}, {"uniqueIdType", "unknown"}}
	case "recurrence":
		if in.kind != "seriesMaster" || e.recur == nil {
			return nil
		}
		return recurrenceJSON(e)
	case "attendees":
		out := []object{}
		for _, a := range e.attendees {
			out = append(out, object{{"type", a.typ}, {"status", object{{"response", a.response}, {"time", responseTime(a.at)}}},
				{"emailAddress", object{{"name", a.who.Name}, {"address", a.who.Address}}}})
		}
		return out
	case "organizer":
		return emailAddressJSON(e.organizer)
	case "onlineMeeting":
		if !e.isOnline || e.joinURL == "" {
			return nil
		}
		return object{{"joinUrl", e.joinURL}}
	}
	return nil
}

// bodyMessage wraps the event body so the message body conversions apply.
func (e *event) bodyMessage() *message {
	if e.bodyHTML {
		return &message{bodyType: "html", bodyContent: e.bodyText}
	}
	return &message{bodyType: "text", bodyContent: e.bodyText}
}

// responseTime renders a response status time; Outlook sends the zero
// DateTimeOffset for responses never made.
func responseTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return graphTime(t)
}

func recurrenceJSON(e *event) object {
	rc := e.recur
	days := []string{}
	for _, d := range rc.days {
		days = append(days, strings.ToLower(d.String()))
	}
	rng := object{{"type", "numbered"}, {"startDate", e.start.Format("2006-01-02")}, {"endDate", "0001-01-01"},
		{"recurrenceTimeZone", e.timeZone}, {"numberOfOccurrences", rc.count}}
	if rc.count == 0 {
		rng[0] = kv{"type", "noEnd"}
	}
	return object{{"pattern", object{{"type", rc.pattern}, {"interval", max(rc.interval, 1)}, {"daysOfWeek", days}}}, {"range", rng}}
}

// routeCalendarView routes /users/{id}/calendarView[/delta].
func (s *Server) routeCalendarView(g *graphRequest) {
	segs := g.segs[3:]
	switch {
	case len(segs) == 0:
		if g.method(http.MethodGet) {
			s.listCalendarView(g)
		}
	case len(segs) == 1 && isDelta(segs[0]):
		if g.method(http.MethodGet) {
			s.calendarViewDelta(g)
		}
	default:
		errNotSimulated(g.w, g.r, "/users/{id}/calendarView/"+strings.Join(segs, "/"))
	}
}

// calendarWindow reads startDateTime and endDateTime (S31).
func calendarWindow(g *graphRequest) (from, to time.Time, ok bool) {
	sv, okS := g.q.param("startDateTime")
	ev, okE := g.q.param("endDateTime")
	if !okS || !okE || strings.TrimSpace(sv) == "" || strings.TrimSpace(ev) == "" {
		errBadRequest(g.w, g.r, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
		return from, to, false
	}
	from, okS = parseWindowBound(sv)
	to, okE = parseWindowBound(ev)
	if !okS || !okE {
		errBadRequest(g.w, g.r, "ErrorInvalidParameter", "The value of the parameter 'StartDateTime' or 'EndDateTime' is invalid.")
		return from, to, false
	}
	if !to.After(from) {
		errBadRequest(g.w, g.r, "ErrorInvalidParameter", "The parameter 'EndDateTime' must be later than 'StartDateTime'.")
		return from, to, false
	}
	return from, to, true
}

func (s *Server) calendarRender(g *graphRequest, props []string) (eventRender, []string) {
	loc, label, tzOK := preferredTimeZone(g.r)
	bodyType, preferText := preferredBodyType(g.r)
	rr := eventRender{props: props, withBody: g.p.has(permCalendarBody...), loc: loc, tzLabel: label, bodyType: bodyType}
	var applied []string
	if tzOK {
		applied = append(applied, fmt.Sprintf("outlook.timezone=%q", label))
	}
	if preferText {
		applied = append(applied, `outlook.body-content-type="text"`)
	}
	return rr, applied
}

// lockCalendar checks the permission and resolves the mailbox; on success
// s.mu is held.
func (s *Server) lockCalendar(g *graphRequest) (*user, bool) {
	if !g.p.has(permCalendarRead...) {
		errMailDenied(g.w, g.r)
		return nil, false
	}
	u, _, ok := s.lockMailbox(g, "")
	return u, ok
}

// selectEventProps validates $select against the event properties.
func selectEventProps(g *graphRequest) ([]string, bool) {
	props, bad := canonicalProps(g.q.selects, eventSelectable)
	if bad != "" {
		errBadRequest(g.w, g.r, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.event'.", bad))
		return nil, false
	}
	return props, true
}

func (s *Server) listCalendarView(g *graphRequest) {
	w, r, q := g.w, g.r, g.q
	if q.filter != "" || q.orderBy != "" || q.expand != "" || q.search != "" || q.count != "" {
		errNotSimulated(w, r, "$filter, $orderby, $expand, $search and $count on calendarView")
		return
	}
	from, to, ok := calendarWindow(g)
	if !ok {
		return
	}
	top, ok := pageTop(g)
	if !ok {
		return
	}
	props, ok := selectEventProps(g)
	if !ok {
		return
	}
	rr, applied := s.calendarRender(g, props)
	u, ok := s.lockCalendar(g)
	if !ok {
		return
	}
	var all []instance
	for _, in := range u.allInstances() {
		if overlaps(in, from, to) {
			all = append(all, in)
		}
	}
	start := min(q.skip, len(all))
	end := min(start+top, len(all))
	value := make([]object, 0, end-start)
	for _, in := range all[start:end] {
		value = append(value, eventJSON(in, rr))
	}
	s.mu.Unlock()
	body := object{{"@odata.context", contextURL(r, fmt.Sprintf("users('%s')/calendarView%s", g.userKey(), selectSuffix(props)))}, {"value", value}}
	if end < len(all) {
		body = append(body, kv{"@odata.nextLink", nextLinkURL(r, [][2]string{{"$skip", strconv.Itoa(end)}})})
	}
	if len(applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(applied, ", "))
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}

func (s *Server) calendarViewDelta(g *graphRequest) {
	w, r, q := g.w, g.r, g.q
	first := deltaParams{kind: deltaEvents}
	if !q.hasSkipToken && !(q.hasDeltaToken && !strings.EqualFold(q.deltaToken, "latest")) {
		if q.hasSelect || q.expand != "" || q.filter != "" || q.orderBy != "" || q.search != "" {
			// [unv] exact code; api/event-delta.md: "You cannot use $select",
			// and $expand, $filter, $orderby and $search are not supported.
			errBadRequest(w, r, "ErrorInvalidUrlQuery", "The query parameters $select, $expand, $filter, $orderby and $search are not supported with calendarView delta.")
			return
		}
		if q.hasTop || q.hasSkip || q.count != "" {
			errNotSimulated(w, r, "$top, $skip and $count on calendarView delta")
			return
		}
		from, to, ok := calendarWindow(g)
		if !ok {
			return
		}
		first.start, first.end = from, to
	}
	pageSize, sizeApplied := preferredMaxPageSize(r)
	rr, applied := s.calendarRender(g, nil)
	u, ok := s.lockCalendar(g)
	if !ok {
		return
	}
	first.userID = u.id
	if q.hasDeltaToken && strings.EqualFold(q.deltaToken, "latest") && first.start.IsZero() {
		s.mu.Unlock()
		errBadRequest(w, r, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
		return
	}
	round, offset, ok := s.deltaStart(g, first, func(p deltaParams, since int) []deltaEntry {
		return eventsChangedSince(u, p.start, p.end, since)
	})
	if !ok {
		s.mu.Unlock()
		return
	}
	page, skip, delta := s.deltaPage(g.p.tenant, round, offset, pageSize)
	byID := map[string]instance{}
	for _, in := range u.allInstances() {
		byID[in.id] = in
	}
	value := make([]object, 0, len(page))
	for _, e := range page {
		in, found := byID[e.id]
		if e.removed || !found || !overlaps(in, round.params.start, round.params.end) {
			value = append(value, object{{"@odata.type", "#microsoft.graph.event"}, {"id", e.id}, {"@removed", object{{"reason", "deleted"}}}})
			continue
		}
		value = append(value, append(object{{"@odata.type", "#microsoft.graph.event"}}, eventJSON(in, rr)...))
	}
	s.mu.Unlock()
	base := "https://" + r.Host + "/v1.0/"
	if g.me {
		base += "me"
	} else {
		base += "users/" + url.PathEscape(g.userKey())
	}
	base += "/calendarView/delta"
	body := object{{"@odata.context", contextURL(r, "Collection(event)")}}
	if skip != "" {
		body = append(body, kv{"@odata.nextLink", base + "?$skiptoken=" + skip})
	} else {
		body = append(body, kv{"@odata.deltaLink", base + "?$deltatoken=" + delta})
	}
	body = append(body, kv{"value", value})
	if sizeApplied {
		applied = append([]string{"odata.maxpagesize=" + strconv.Itoa(pageSize)}, applied...)
	}
	if len(applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(applied, ", "))
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}
