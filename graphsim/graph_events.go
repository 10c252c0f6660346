package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Calendar writes (S34-S36; api/user-post-events.md, api/event-get.md,
// api/event-update.md, api/event-delete.md, api/event-accept.md,
// api/event-decline.md, api/event-tentativelyaccept.md,
// api/event-cancel.md, api/calendar-get.md):
//
//	GET|POST  /users/{id}/events                 (also /calendar/events, /calendars/{id}/events)
//	GET|PATCH|DELETE /users/{id}/events/{id}
//	POST      /users/{id}/events/{id}/accept|decline|tentativelyAccept|cancel
//	GET       /users/{id}/calendar, /users/{id}/calendars[/{id}]   (the one default calendar)
//	          /users/{id}/calendar/calendarView[/delta], /calendars/{id}/calendarView[/delta]
//
// POST answers 201 with the full event (the shape of the doc's examples:
// type singleInstance or seriesMaster, isOrganizer true, responseStatus
// organizer, attendees with status none, start/end rendered in UTC or the
// Prefer: outlook.timezone zone). Tenant attendees get a copy in their
// calendar (responseStatus none), which their calendarView delta reports.
// A POST whose transactionId matches an event the organizer's calendar
// already holds creates nothing and answers 201 with that event (S34; the
// docs give no other status). isOnlineMeeting with onlineMeetingProvider
// teamsForBusiness (the calendar's only allowed provider, also the default)
// gives onlineMeeting.joinUrl (S35).
//
// PATCH changes the writable properties of api/event-update.md and answers
// 200 with the event; an organizer's changes reach every attendee's copy
// (new tenant attendees are invited, removed ones get the cancellation),
// an attendee's stay in its own calendar, and categories, reminders and
// showAs are always personal. DELETE answers 204; the organizer deleting a
// meeting cancels it for the attendees. accept, decline and
// tentativelyAccept answer 202 and set the caller's responseStatus and,
// unless sendResponse is false, the caller's status in every copy (the
// organizer's included); the organizer responding gets 400. cancel answers
// 202 for the organizer (the event leaves the organizer's calendar,
// attendees' copies become isCancelled) and 400 ErrorInvalidRequest
// "Your request can't be completed. You need to be an organizer to cancel a
// meeting." for anyone else (S36). A declined meeting stays in the
// attendee's calendar with responseStatus declined. Writes need
// Calendars.ReadWrite (§8), else 403 ErrorAccessDenied.
//
// Not simulated (501): responses to a single occurrence, recurrence other
// than daily/weekly (and recurrence changes by PATCH), more than one
// location, skype providers, extended properties, attachments,
// extensions, instances, events delta, and $filter/$orderby/$search/$expand
// on events.

var (
	permCalendarWrite = []string{"Calendars.ReadWrite"}
)

// calendarID is the id of a mailbox's default calendar.
func calendarID(t *tenant, u *user) string { return outlookID("calendar", t.id, u.id) }

// routeEvents routes /users/{id}/events..., /users/{id}/calendar... and
// /users/{id}/calendars...
func (s *Server) routeEvents(g *graphRequest) {
	segs := g.segs[2:]
	switch strings.ToLower(segs[0]) {
	case "events":
		s.eventsUnder(g, segs[1:])
	case "calendar":
		s.calendarUnder(g, "", segs[1:])
	default: // calendars
		if len(segs) == 1 {
			if g.method(http.MethodGet) {
				s.getCalendars(g, "", true)
			}
			return
		}
		if strings.HasPrefix(segs[1], "$") || isDelta(segs[1]) {
			errNotSimulated(g.w, g.r, "/users/{id}/calendars/"+segs[1])
			return
		}
		s.calendarUnder(g, segs[1], segs[2:])
	}
}

// calendarUnder routes below one calendar; calKey is "" for /calendar.
func (s *Server) calendarUnder(g *graphRequest, calKey string, rest []string) {
	if calKey != "" && !s.calendarKeyValid(g, calKey) {
		return
	}
	switch {
	case len(rest) == 0:
		if g.method(http.MethodGet) {
			s.getCalendars(g, calKey, false)
		}
	case strings.EqualFold(rest[0], "events"):
		s.eventsUnder(g, rest[1:])
	case strings.EqualFold(rest[0], "calendarView"):
		g2 := *g
		g2.segs = append([]string{g.segs[0], g.segs[1]}, rest...)
		s.routeCalendarView(&g2)
	default:
		errNotSimulated(g.w, g.r, "/users/{id}/calendar/"+strings.Join(rest, "/"))
	}
}

// calendarKeyValid checks a calendar id (only the default calendar exists).
func (s *Server) calendarKeyValid(g *graphRequest, key string) bool {
	u, ok := s.lockCalendar(g)
	if !ok {
		return false
	}
	valid := key == calendarID(g.p.tenant, u)
	s.mu.Unlock()
	if !valid {
		errItemNotFoundOrMalformed(g, key)
	}
	return valid
}

func (s *Server) eventsUnder(g *graphRequest, rest []string) {
	switch {
	case len(rest) == 0:
		switch g.r.Method {
		case http.MethodPost:
			s.createEvent(g)
		default:
			if g.method(http.MethodGet) {
				s.listEvents(g)
			}
		}
	case len(rest) == 1 && (isDelta(rest[0]) || strings.HasPrefix(rest[0], "$")):
		errNotSimulated(g.w, g.r, "/users/{id}/events/"+rest[0])
	case len(rest) == 1:
		switch g.r.Method {
		case http.MethodPatch:
			s.patchEvent(g, rest[0])
		case http.MethodDelete:
			s.deleteEventGraph(g, rest[0])
		default:
			if g.method(http.MethodGet) {
				s.getEvent(g, rest[0])
			}
		}
	case len(rest) == 2:
		switch a := strings.ToLower(strings.TrimPrefix(rest[1], "microsoft.graph.")); a {
		case "accept", "decline", "tentativelyaccept", "cancel":
			if g.method(http.MethodPost) {
				s.eventAction(g, rest[0], a)
			}
		default:
			errNotSimulated(g.w, g.r, g.r.Method+" /users/{id}/events/{id}/"+rest[1])
		}
	default:
		errNotSimulated(g.w, g.r, g.r.Method+" /users/{id}/events/{id}/"+strings.Join(rest[1:], "/"))
	}
}

func calendarJSON(t *tenant, u *user) object {
	return object{
		{"id", calendarID(t, u)}, {"name", "Calendar"}, {"color", "auto"}, {"hexColor", ""}, {"isDefaultCalendar", true},
		{"changeKey", (&message{id: calendarID(t, u)}).changeKey()}, {"canShare", true}, {"canViewPrivateItems", true},
		{"canEdit", true}, {"allowedOnlineMeetingProviders", []string{"teamsForBusiness"}},
		{"defaultOnlineMeetingProvider", "teamsForBusiness"}, {"isTallyingResponses", true}, {"isRemovable", false},
		{"owner", object{{"name", u.displayName}, {"address", u.mail}}},
	}
}

// getCalendars serves GET /calendar, /calendars/{id} and (list) /calendars.
func (s *Server) getCalendars(g *graphRequest, key string, list bool) {
	q := g.q
	if q.hasSelect || q.expand != "" || q.filter != "" || q.orderBy != "" || q.search != "" || q.count != "" || q.hasTop || q.hasSkip {
		errNotSimulated(g.w, g.r, "query options on calendars")
		return
	}
	u, ok := s.lockCalendar(g)
	if !ok {
		return
	}
	cal := calendarJSON(g.p.tenant, u)
	s.mu.Unlock()
	ctx := fmt.Sprintf("users('%s')/calendars", g.userKey())
	if list {
		writeGraphJSON(g.w, g.r, http.StatusOK, object{{"@odata.context", contextURL(g.r, ctx)}, {"value", []object{cal}}})
		return
	}
	if key == "" {
		ctx = fmt.Sprintf("users('%s')/calendar", g.userKey())
	}
	writeGraphJSON(g.w, g.r, http.StatusOK, append(object{{"@odata.context", contextURL(g.r, ctx+"/$entity")}}, cal...))
}

// lockCalendarWrite checks Calendars.ReadWrite and resolves the mailbox;
// on success s.mu is held.
func (s *Server) lockCalendarWrite(g *graphRequest) (*user, bool) {
	if !g.p.has(permCalendarWrite...) {
		errMailDenied(g.w, g.r)
		return nil, false
	}
	u, _, ok := s.lockMailbox(g, "")
	return u, ok
}

// masterInstance renders a series master as an instance.
func masterInstance(e *event) instance {
	return instance{id: e.id, ev: e, kind: "seriesMaster", start: e.start, end: e.end, origStart: e.start}
}

// lockCalendarItem is lockCalendarWrite plus the item id names: on false
// the lock is released and the error (403, 404…) written.
func (s *Server) lockCalendarItem(g *graphRequest, id string) (*user, instance, bool) {
	u, ok := s.lockCalendarWrite(g)
	if !ok {
		return nil, instance{}, false
	}
	it, found := u.itemByID(id)
	if !found {
		s.mu.Unlock()
		errItemNotFoundOrMalformed(g, id)
		return nil, instance{}, false
	}
	return u, it, true
}

// itemByID finds an event item the way GET /events/{id} does: a single
// instance, occurrence, exception or series master.
func (u *user) itemByID(id string) (instance, bool) {
	if e := u.eventByID(id); e != nil && e.kind == "seriesMaster" {
		return masterInstance(e), true
	}
	return u.instanceByID(id)
}

// writeEvent answers with one event as u's calendar holds it.
func (s *Server) writeEvent(g *graphRequest, status int, in instance, rr eventRender, applied []string) {
	entity := eventJSON(in, rr)
	s.mu.Unlock()
	if len(applied) > 0 {
		g.w.Header().Set("Preference-Applied", strings.Join(applied, ", "))
	}
	ctx := fmt.Sprintf("users('%s')/events%s/$entity", g.userKey(), selectSuffix(rr.props))
	writeGraphJSON(g.w, g.r, status, append(object{{"@odata.context", contextURL(g.r, ctx)}}, entity...))
}

func (s *Server) getEvent(g *graphRequest, id string) {
	q := g.q
	if q.expand != "" || q.filter != "" || q.orderBy != "" || q.search != "" {
		errNotSimulated(g.w, g.r, "$expand, $filter, $orderby and $search on an event")
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
	in, found := u.itemByID(id)
	if !found {
		s.mu.Unlock()
		errItemNotFoundOrMalformed(g, id)
		return
	}
	s.writeEvent(g, http.StatusOK, in, rr, applied)
}

// listEvents serves GET /events: single events and series masters (not
// occurrences or exceptions), earliest first, 10 a page ($top 1-1000,
// $skip nextLinks, $select).
func (s *Server) listEvents(g *graphRequest) {
	w, r, q := g.w, g.r, g.q
	if q.filter != "" || q.orderBy != "" || q.expand != "" || q.search != "" || q.count != "" {
		errNotSimulated(w, r, "$filter, $orderby, $expand, $search and $count on events")
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
	for _, e := range u.events {
		switch e.kind {
		case "seriesMaster":
			all = append(all, masterInstance(e))
		case "singleInstance":
			all = append(all, instance{id: e.id, ev: e, kind: e.kind, start: e.start, end: e.end})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].start.Equal(all[j].start) {
			return all[i].start.Before(all[j].start)
		}
		return all[i].id < all[j].id
	})
	start := min(q.skip, len(all))
	end := min(start+top, len(all))
	value := make([]object, 0, end-start)
	for _, in := range all[start:end] {
		value = append(value, eventJSON(in, rr))
	}
	s.mu.Unlock()
	body := object{{"@odata.context", contextURL(r, fmt.Sprintf("users('%s')/events%s", g.userKey(), selectSuffix(props)))}, {"value", value}}
	if end < len(all) {
		body = append(body, kv{"@odata.nextLink", nextLinkURL(r, [][2]string{{"$skip", strconv.Itoa(end)}})})
	}
	if len(applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(applied, ", "))
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}

// eventInput is a parsed event body; nil fields were not given.
type eventInput struct {
	subject                                      *string
	bodyHTML                                     bool
	body                                         *string
	start, end                                   *time.Time
	startTZ, endTZ                               string
	location                                     *string
	attendees                                    *[]EventAttendeeSeed
	isOnline                                     *bool
	provider                                     *string
	allowNewTimeProposals, hideAttendees         *bool
	isAllDay, reminderOn, responseRequested      *bool
	reminderMinutes                              *int
	showAs, importance, sensitivity, transaction *string
	categories                                   *[]string
	recurrence                                   *RecurrenceSeed
	recurrenceEnd                                time.Time // an endDate range's last day; zero otherwise
	recurrenceNull                               bool
}

// eventWritable are the properties a POST or PATCH may carry (the
// writable ones of resources/event.md); eventIgnored are accepted and
// recomputed by Outlook, as the doc's update example sends them.
var (
	eventWritable = []string{
		"subject", "body", "start", "end", "location", "locations", "attendees", "isOnlineMeeting",
		"onlineMeetingProvider", "allowNewTimeProposals", "hideAttendees", "isAllDay", "isReminderOn",
		"reminderMinutesBeforeStart", "responseRequested", "showAs", "importance", "sensitivity", "categories",
		"transactionId", "recurrence",
	}
	eventIgnored     = []string{"originalStartTimeZone", "originalEndTimeZone", "responseStatus"}
	eventNotWritable = []string{
		"singleValueExtendedProperties", "multiValueExtendedProperties", "extensions", "attachments", "calendar",
		"instances",
	}
)

var enumValues = map[string][]string{
	"showAs":                {"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"},
	"importance":            {"low", "normal", "high"},
	"sensitivity":           {"normal", "personal", "private", "confidential"},
	"onlineMeetingProvider": {"unknown", "teamsForBusiness", "skypeForBusiness", "skypeForConsumer"},
	"attendeeType":          {"required", "optional", "resource"},
}

// enumValue matches an enum member case-insensitively (Graph accepts
// "Required" as the doc's example sends it) and returns its canonical form.
func enumValue(kind, v string) (string, bool) {
	for _, x := range enumValues[kind] {
		if strings.EqualFold(x, v) {
			return x, true
		}
	}
	return "", false
}

// parseEventInput validates an event body; errors are written.
func parseEventInput(g *graphRequest, m map[string]any, create bool) (*eventInput, bool) {
	w, r := g.w, g.r
	in := &eventInput{}
	bad := func(code, msg string) (*eventInput, bool) {
		errBadRequest(w, r, code, msg)
		return nil, false
	}
	conv := func(v any, typ string) (*eventInput, bool) {
		return bad("RequestBodyRead", fmt.Sprintf("Cannot convert the literal '%v' to the expected type '%s'.", v, typ))
	}
	var locations []any
	hasLocation := false
	for rawKey, v := range m {
		if strings.HasPrefix(rawKey, "@") {
			continue
		}
		key, unknown := canonicalProp(rawKey, eventWritable)
		if unknown {
			if _, no := canonicalProp(rawKey, eventIgnored); !no {
				continue
			}
			if k, no := canonicalProp(rawKey, eventNotWritable); !no {
				errNotSimulated(w, r, k+" on events")
				return nil, false
			}
			if k, no := canonicalProp(rawKey, eventSelectable); !no {
				return bad("ErrorInvalidPropertySet", fmt.Sprintf("The property '%s' is read-only and cannot be set.", k))
			}
			return bad("RequestBodyRead", fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.event'. Make sure to only use property names that are defined by the type or mark the type as open type.", rawKey))
		}
		str := func(typ string) (*string, bool) {
			if v == nil {
				e := ""
				return &e, true
			}
			x, ok := v.(string)
			if !ok {
				conv(v, typ)
				return nil, false
			}
			return &x, true
		}
		boolean := func() (*bool, bool) {
			b, err := ciBool(map[string]any{key: v}, key, false)
			if err != nil || v == nil {
				conv(v, "Edm.Boolean")
				return nil, false
			}
			return &b, true
		}
		enum := func(kind, typ string) (*string, bool) {
			sv, ok := v.(string)
			if !ok {
				conv(v, typ)
				return nil, false
			}
			c, ok := enumValue(kind, sv)
			if !ok {
				conv(v, typ)
				return nil, false
			}
			return &c, true
		}
		var ok bool
		switch key {
		case "subject":
			in.subject, ok = str("Edm.String")
		case "transactionId":
			if !create {
				return bad("ErrorInvalidPropertySet", "The property 'transactionId' cannot be changed after the event is created.")
			}
			in.transaction, ok = str("Edm.String")
		case "body":
			o, isObj := v.(map[string]any)
			if !isObj {
				return conv(v, "microsoft.graph.itemBody")
			}
			ct := strings.ToLower(ciString(o, "contentType"))
			switch ct {
			case "", "text":
			case "html":
				in.bodyHTML = true
			default:
				return conv(ct, "microsoft.graph.bodyType")
			}
			c := ciString(o, "content")
			in.body, ok = &c, true
		case "start", "end":
			o, isObj := v.(map[string]any)
			if !isObj {
				return conv(v, "microsoft.graph.dateTimeTimeZone")
			}
			tz := ciString(o, "timeZone")
			if tz == "" {
				tz = "UTC"
			}
			if _, known := loadZone(tz); !known {
				return bad("TimeZoneNotSupportedException", fmt.Sprintf("A valid TimeZone value must be specified. The following TimeZone value is not supported: '%s'.", tz))
			}
			tm, err := parseDateTimeTimeZone(ciString(o, "dateTime"), tz)
			if err != nil {
				return conv(ciString(o, "dateTime"), "Edm.DateTimeOffset")
			}
			if key == "start" {
				in.start, in.startTZ = &tm, tz
			} else {
				in.end, in.endTZ = &tm, tz
			}
			ok = true
		case "location":
			o, isObj := v.(map[string]any)
			if v != nil && !isObj {
				return conv(v, "microsoft.graph.location")
			}
			d := ciString(o, "displayName")
			in.location, ok, hasLocation = &d, true, true
		case "locations":
			a, isArr := v.([]any)
			if !isArr {
				return conv(v, "Collection(microsoft.graph.location)")
			}
			locations, ok = a, true
		case "attendees":
			a, isArr := v.([]any)
			if v != nil && !isArr {
				return conv(v, "Collection(microsoft.graph.attendee)")
			}
			list := []EventAttendeeSeed{}
			for _, x := range a {
				o, _ := x.(map[string]any)
				addr := strings.TrimSpace(ciString(ciObject(o, "emailAddress"), "address"))
				if addr == "" || !strings.Contains(addr, "@") {
					return bad("ErrorInvalidRecipients", "At least one recipient isn't valid.")
				}
				typ := "required"
				if tv := ciString(o, "type"); tv != "" {
					c, known := enumValue("attendeeType", tv)
					if !known {
						return conv(tv, "microsoft.graph.attendeeType")
					}
					typ = c
				}
				list = append(list, EventAttendeeSeed{Address: addr, Type: typ})
			}
			in.attendees, ok = &list, true
		case "isOnlineMeeting":
			in.isOnline, ok = boolean()
		case "allowNewTimeProposals":
			in.allowNewTimeProposals, ok = boolean()
		case "hideAttendees":
			in.hideAttendees, ok = boolean()
		case "isAllDay":
			in.isAllDay, ok = boolean()
		case "isReminderOn":
			in.reminderOn, ok = boolean()
		case "responseRequested":
			in.responseRequested, ok = boolean()
		case "reminderMinutesBeforeStart":
			n, isNum := v.(json.Number)
			iv, err := n.Int64()
			if !isNum || err != nil {
				return conv(v, "Edm.Int32")
			}
			x := int(iv)
			in.reminderMinutes, ok = &x, true
		case "onlineMeetingProvider":
			in.provider, ok = enum("onlineMeetingProvider", "microsoft.graph.onlineMeetingProviderType")
			if ok && strings.HasPrefix(*in.provider, "skype") {
				errNotSimulated(w, r, "onlineMeetingProvider "+*in.provider+" (the simulated calendars allow only teamsForBusiness)")
				return nil, false
			}
		case "showAs":
			in.showAs, ok = enum("showAs", "microsoft.graph.freeBusyStatus")
		case "importance":
			in.importance, ok = enum("importance", "microsoft.graph.importance")
		case "sensitivity":
			in.sensitivity, ok = enum("sensitivity", "microsoft.graph.sensitivity")
		case "categories":
			a, isArr := v.([]any)
			if v != nil && !isArr {
				return conv(v, "Collection(Edm.String)")
			}
			cs := []string{}
			for _, x := range a {
				sx, isStr := x.(string)
				if !isStr {
					return conv(x, "Edm.String")
				}
				cs = append(cs, sx)
			}
			in.categories, ok = &cs, true
		case "recurrence":
			if v == nil {
				in.recurrenceNull, ok = true, true
				break
			}
			if !create {
				errNotSimulated(w, r, "changing an event's recurrence")
				return nil, false
			}
			o, isObj := v.(map[string]any)
			if !isObj {
				return conv(v, "microsoft.graph.patternedRecurrence")
			}
			in.recurrence, in.recurrenceEnd, ok = parseRecurrence(g, o)
		}
		if !ok {
			return nil, false
		}
	}
	switch {
	case len(locations) > 1:
		errNotSimulated(w, r, "more than one location")
		return nil, false
	case len(locations) == 1 && !hasLocation:
		o, _ := locations[0].(map[string]any)
		d := ciString(o, "displayName")
		in.location = &d
	}
	return in, true
}

// parseRecurrence reads a patternedRecurrence: daily or weekly patterns
// with a numbered, noEnd or endDate range (endDate: the range's last day).
func parseRecurrence(g *graphRequest, o map[string]any) (rs *RecurrenceSeed, endDate time.Time, ok bool) {
	pat, rng := ciObject(o, "pattern"), ciObject(o, "range")
	rs = &RecurrenceSeed{Pattern: strings.ToLower(ciString(pat, "type"))}
	if rs.Pattern != "daily" && rs.Pattern != "weekly" {
		errNotSimulated(g.w, g.r, fmt.Sprintf("recurrence pattern '%s'", ciString(pat, "type")))
		return nil, endDate, false
	}
	if n, ok := ciGet(pat, "interval"); ok {
		if num, isNum := n.(json.Number); isNum {
			iv, _ := num.Int64()
			rs.Interval = int(iv)
		}
	}
	for _, d := range ciArray(pat, "daysOfWeek") {
		ds, _ := d.(string)
		if _, known := weekdayNames[strings.ToLower(ds)]; !known {
			errBadRequest(g.w, g.r, "RequestBodyRead", fmt.Sprintf("Cannot convert the literal '%v' to the expected type 'microsoft.graph.dayOfWeek'.", d))
			return nil, endDate, false
		}
		rs.DaysOfWeek = append(rs.DaysOfWeek, strings.ToLower(ds))
	}
	switch strings.ToLower(ciString(rng, "type")) {
	case "numbered":
		num, _ := ciGet(rng, "numberOfOccurrences")
		n, isNum := num.(json.Number)
		iv, err := n.Int64()
		if !isNum || err != nil || iv < 1 {
			errBadRequest(g.w, g.r, "ErrorInvalidRequest", "The numberOfOccurrences of a numbered recurrence range must be at least 1.")
			return nil, endDate, false
		}
		rs.Count = int(iv)
	case "noend":
	case "enddate":
		end, err := time.Parse("2006-01-02", ciString(rng, "endDate"))
		if err != nil {
			errBadRequest(g.w, g.r, "RequestBodyRead", fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.Date'.", ciString(rng, "endDate")))
			return nil, endDate, false
		}
		endDate = end
	default:
		errNotSimulated(g.w, g.r, fmt.Sprintf("recurrence range '%s'", ciString(rng, "type")))
		return nil, endDate, false
	}
	return rs, endDate, true
}

// readJSONBody reads an optional JSON object body (actions such as accept
// take one, but every parameter is optional).
func readJSONBody(g *graphRequest, required bool) (map[string]any, bool) {
	raw, ok := readBody(g.w, g.r)
	if !ok {
		return nil, false
	}
	if !required && len(strings.TrimSpace(string(raw))) == 0 {
		return map[string]any{}, true
	}
	return decodeJSONObject(g.w, g.r, raw)
}

func (s *Server) createEvent(g *graphRequest) {
	m, ok := readJSONBody(g, true)
	if !ok {
		return
	}
	in, ok := parseEventInput(g, m, true)
	if !ok {
		return
	}
	if in.start == nil || in.end == nil {
		errBadRequest(g.w, g.r, "ErrorPropertyValidationFailure", "At least one property failed validation: the event needs a start and an end.")
		return
	}
	if in.end.Before(*in.start) {
		errBadRequest(g.w, g.r, "ErrorInvalidRequest", "The end date you entered occurs before the start date.")
		return
	}
	rr, applied := s.calendarRender(g, nil)
	u, ok := s.lockCalendarWrite(g)
	if !ok {
		return
	}
	t := g.p.tenant
	if in.transaction != nil && *in.transaction != "" {
		for _, e := range u.events {
			if e.transactionID == *in.transaction && e.responseStatus == "organizer" {
				it, _ := u.itemByID(e.id)
				s.writeEvent(g, http.StatusCreated, it, rr, applied)
				return
			}
		}
	}
	es := EventSeed{Organizer: u.id, Start: *in.start, End: *in.end, TimeZone: in.startTZ}
	if !in.end.After(*in.start) {
		es.End = in.start.Add(time.Second) // zero-length events exist; addEventWith wants end > start
	}
	setIfGiven(&es.Subject, in.subject)
	setIfGiven(&es.Location, in.location)
	setIfGiven(&es.Attendees, in.attendees)
	if in.recurrence != nil {
		rs := *in.recurrence
		if !in.recurrenceEnd.IsZero() { // an endDate range: count the occurrences up to that day
			endDay := in.recurrenceEnd
			probe := &event{start: es.Start, recur: &recurrence{pattern: rs.Pattern, interval: rs.Interval}}
			for _, d := range rs.DaysOfWeek {
				probe.recur.days = append(probe.recur.days, weekdayNames[d])
			}
			loc, _ := loadZone(es.TimeZone)
			rs.Count = 0
			for _, st := range probe.occurrenceStarts() {
				y, mo, d := st.In(loc).Date()
				if time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).After(endDay) {
					break
				}
				rs.Count++
			}
			if rs.Count == 0 {
				s.mu.Unlock()
				errBadRequest(g.w, g.r, "ErrorInvalidRequest", "The recurrence range has no occurrences.")
				return
			}
		}
		es.Recurrence = &rs
	}
	online := in.isOnline != nil && *in.isOnline
	es.IsOnlineMeeting = online
	seq := t.nextChange()
	id, err := t.addEventWith(es, seq, func(e *event) {
		e.end = in.end.UTC()
		if in.endTZ != "" && !strings.EqualFold(in.endTZ, in.startTZ) {
			e.endTimeZone = in.endTZ
		}
		if in.body != nil {
			e.bodyText, e.bodyHTML = *in.body, in.bodyHTML
		}
		if in.transaction != nil {
			e.transactionID = *in.transaction
		}
		if online && in.provider != nil && *in.provider == "unknown" {
			e.onlineProvider, e.joinURL = "unknown", ""
		}
		applyEventShared(e, in)
		applyEventLocal(e, in)
	})
	if err != nil {
		s.mu.Unlock()
		errBadRequest(g.w, g.r, "ErrorInvalidRequest", err.Error())
		return
	}
	it, _ := u.itemByID(id)
	s.writeEvent(g, http.StatusCreated, it, rr, applied)
}

// applyEventShared sets the meeting properties every copy shares (except
// subject, times, location and attendees, which callers handle).
func applyEventShared(e *event, in *eventInput) {
	setIfGiven(&e.allowNewTimeProposals, in.allowNewTimeProposals)
	setIfGiven(&e.hideAttendees, in.hideAttendees)
	setIfGiven(&e.isAllDay, in.isAllDay)
	setIfGiven(&e.responseRequested, in.responseRequested)
	setIfGiven(&e.importance, in.importance)
	setIfGiven(&e.sensitivity, in.sensitivity)
}

// applyEventLocal sets a calendar's personal properties.
func applyEventLocal(e *event, in *eventInput) {
	setIfGiven(&e.reminderOn, in.reminderOn)
	setIfGiven(&e.reminderMinutes, in.reminderMinutes)
	setIfGiven(&e.showAs, in.showAs)
	if in.categories != nil {
		e.categories = append([]string{}, (*in.categories)...)
	}
}

func (s *Server) patchEvent(g *graphRequest, id string) {
	m, ok := readJSONBody(g, true)
	if !ok {
		return
	}
	in, ok := parseEventInput(g, m, false)
	if !ok {
		return
	}
	rr, applied := s.calendarRender(g, nil)
	u, it, ok := s.lockCalendarItem(g, id)
	if !ok {
		return
	}
	t := g.p.tenant
	fail := func(status int, code, msg string) {
		s.mu.Unlock()
		writeGraphError(g.w, g.r, status, code, msg)
	}
	if in.recurrenceNull && it.kind != "singleInstance" {
		fail(http.StatusNotImplemented, "NotImplemented", "Changing an event's recurrence is not supported by the Graph simulator.")
		return
	}
	newStart, newEnd := it.start, it.end
	if in.start != nil {
		newStart = *in.start
	}
	if in.end != nil {
		newEnd = *in.end
	}
	if newEnd.Before(newStart) {
		fail(http.StatusBadRequest, "ErrorInvalidRequest", "The end date you entered occurs before the start date.")
		return
	}
	organizer := it.ev.responseStatus == "organizer"
	if in.attendees != nil && (!organizer || it.kind == "occurrence" || it.kind == "exception") {
		fail(http.StatusNotImplemented, "NotImplemented", "Changing the attendees of an occurrence, or as an attendee, is not supported by the Graph simulator.")
		return
	}
	seq := t.nextChange()
	shared := func(e *event) {
		setIfGiven(&e.subject, in.subject)
		if in.body != nil {
			e.bodyText, e.bodyHTML = *in.body, in.bodyHTML
		}
		if it.kind == "occurrence" || e.kind == "exception" {
			if in.start != nil || in.end != nil {
				e.start, e.end = newStart.UTC(), newEnd.UTC()
			}
		} else {
			if in.start != nil {
				e.start = in.start.UTC()
				e.timeZone = in.startTZ
			}
			if in.end != nil {
				e.end = in.end.UTC()
				e.endTimeZone = ""
				if !strings.EqualFold(in.endTZ, e.timeZone) {
					e.endTimeZone = in.endTZ
				}
			}
		}
		setIfGiven(&e.location, in.location)
		if in.isOnline != nil {
			e.isOnline = *in.isOnline
			if e.isOnline && e.joinURL == "" {
				e.joinURL = teamsJoinURL(e.iCalUID)
				e.onlineProvider = "teamsForBusiness"
			}
		}
		if in.provider != nil {
			e.onlineProvider = *in.provider
			if *in.provider == "teamsForBusiness" && e.isOnline && e.joinURL == "" {
				e.joinURL = teamsJoinURL(e.iCalUID)
			}
		}
		applyEventShared(e, in)
	}
	local := func(e *event) { applyEventLocal(e, in) }
	if !organizer {
		// An attendee's changes stay in its own calendar.
		t.changeEvent(u, it, seq, nil, func(e *event) { shared(e); local(e) })
	} else {
		var before []attendee
		if in.attendees != nil {
			before = append(before, it.ev.attendees...)
			var list []attendee
			for _, a := range *in.attendees {
				resp := "none"
				for _, b := range before {
					if strings.EqualFold(b.who.Address, a.Address) {
						resp = b.response
					}
				}
				list = append(list, attendee{who: t.recipientFor(a.Address), typ: a.Type, response: resp})
			}
			prevShared := shared
			shared = func(e *event) {
				prevShared(e)
				e.attendees = append([]attendee(nil), list...)
			}
		}
		t.changeEvent(u, it, seq, shared, local)
		if in.attendees != nil {
			t.reconcileAttendees(u, it.ev, before, seq)
		}
	}
	// An occurrence became an exception: answer with it.
	if it.kind == "occurrence" {
		for _, x := range u.events {
			if x.kind == "exception" && x.seriesMasterID == it.ev.id && x.originalStart.Equal(it.origStart) {
				it = instance{id: x.id, ev: x, kind: "exception", start: x.start, end: x.end, origStart: x.originalStart}
			}
		}
	} else {
		it, _ = u.itemByID(it.id)
	}
	s.writeEvent(g, http.StatusOK, it, rr, applied)
}

// reconcileAttendees invites tenant attendees added to the organizer's
// event org and sends the cancellation to removed ones.
func (t *tenant) reconcileAttendees(organizer *user, org *event, before []attendee, seq int) {
	in := func(list []attendee, addr string) bool {
		for _, a := range list {
			if strings.EqualFold(a.who.Address, addr) {
				return true
			}
		}
		return false
	}
	owners, copies := t.copiesOf(org.iCalUID)
	hasCopy := map[*user]*event{}
	for i, c := range copies {
		hasCopy[owners[i]] = c
	}
	for _, a := range org.attendees {
		au := t.userByAddress(a.who.Address)
		if au == nil || au == organizer || au.mail == "" {
			continue
		}
		if hasCopy[au] != nil {
			continue
		}
		e := t.inviteAttendee(au, org, "none")
		e.createdSeq, e.changedSeq, e.respondedAt = seq, 0, time.Time{}
	}
	for _, b := range before {
		if in(org.attendees, b.who.Address) {
			continue
		}
		if au := t.userByAddress(b.who.Address); au != nil && au != organizer {
			if c := hasCopy[au]; c != nil && !c.isCancelled {
				cancelCopy(c, seq)
			}
		}
	}
}

func (s *Server) deleteEventGraph(g *graphRequest, id string) {
	u, it, ok := s.lockCalendarItem(g, id)
	if !ok {
		return
	}
	t := g.p.tenant
	seq := t.nextChange()
	if it.ev.responseStatus == "organizer" && len(it.ev.attendees) > 0 {
		// The organizer deleting a meeting sends the cancellation.
		t.cancelEvent(u, it, seq)
	} else {
		u.deleteFromCalendar(it.id, seq)
	}
	s.mu.Unlock()
	respondEmpty(g.w, g.r, http.StatusNoContent)
}

// eventAction serves accept, decline, tentativelyAccept and cancel.
func (s *Server) eventAction(g *graphRequest, id, action string) {
	m, ok := readJSONBody(g, false)
	if !ok {
		return
	}
	for k := range m {
		switch strings.ToLower(k) {
		case "comment":
		case "sendresponse":
			if action == "cancel" {
				errBadRequest(g.w, g.r, "RequestBodyRead", fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation 'cancel'.", k))
				return
			}
		case "proposednewtime":
			if action == "accept" || action == "cancel" {
				errBadRequest(g.w, g.r, "RequestBodyRead", fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation '%s'.", k, action))
				return
			}
		default:
			if !strings.HasPrefix(k, "@") {
				errBadRequest(g.w, g.r, "RequestBodyRead", fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation '%s'.", k, action))
				return
			}
		}
	}
	sendResponse, err := ciBool(m, "sendResponse", true)
	if err != nil {
		errBadRequest(g.w, g.r, "RequestBodyRead", err.Error())
		return
	}
	proposed, hasProposal := ciGet(m, "proposedNewTime")
	hasProposal = hasProposal && proposed != nil
	u, it, ok := s.lockCalendarItem(g, id)
	if !ok {
		return
	}
	t := g.p.tenant
	fail := func(status int, code, msg string) {
		s.mu.Unlock()
		writeGraphError(g.w, g.r, status, code, msg)
	}
	organizer := it.ev.responseStatus == "organizer"
	if action == "cancel" {
		if !organizer {
			fail(http.StatusBadRequest, "ErrorInvalidRequest", "Your request can't be completed. You need to be an organizer to cancel a meeting.")
			return
		}
		t.cancelEvent(u, it, t.nextChange())
		s.mu.Unlock()
		respondEmpty(g.w, g.r, http.StatusAccepted)
		return
	}
	switch {
	case organizer:
		fail(http.StatusBadRequest, "ErrorInvalidRequest", "Your request can't be completed. You can't respond to a meeting you organized.")
		return
	case it.kind == "occurrence" || it.kind == "exception":
		fail(http.StatusNotImplemented, "NotImplemented", "Responding to one occurrence of a series is not supported by the Graph simulator.")
		return
	case hasProposal && !sendResponse:
		fail(http.StatusBadRequest, "ErrorInvalidRequest", "Your request can't be completed. A new time can be proposed only when a response is sent (sendResponse true).")
		return
	case hasProposal && !it.ev.allowNewTimeProposals:
		fail(http.StatusBadRequest, "ErrorInvalidRequest", "Your request can't be completed. The organizer doesn't allow new time proposals for this meeting.")
		return
	}
	response := map[string]string{"accept": "accepted", "decline": "declined", "tentativelyaccept": "tentativelyAccepted"}[action]
	t.respondToEvent(u, it.ev, response, sendResponse, t.nextChange())
	s.mu.Unlock()
	respondEmpty(g.w, g.r, http.StatusAccepted)
}
