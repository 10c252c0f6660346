package graphsim

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Calendar state: events per mailbox, series expanded into occurrences, and
// the control operations that change them. A meeting lives in the
// organizer's calendar and, for attendees who are tenant users, as a copy
// in theirs, linked by iCalUId; updates and cancellations reach every copy.

// EventSeed is an event to create in an organizer's calendar.
type EventSeed struct {
	ID              string              `json:"id"` // derived when empty
	Organizer       string              `json:"organizer"`
	Subject         string              `json:"subject"`
	BodyText        string              `json:"bodyText"`
	Start           time.Time           `json:"start"`
	End             time.Time           `json:"end"`
	TimeZone        string              `json:"timeZone"` // Windows name, default "UTC"
	IsAllDay        bool                `json:"isAllDay"`
	Location        string              `json:"location"`
	IsOnlineMeeting bool                `json:"isOnlineMeeting"`
	Attendees       []EventAttendeeSeed `json:"attendees"`
	Recurrence      *RecurrenceSeed     `json:"recurrence"`
	ShowAs          string              `json:"showAs"`     // default busy
	Importance      string              `json:"importance"` // default normal
}

// EventAttendeeSeed is an attendee: an address (tenant user or external),
// type (required, optional, resource) and response (none, accepted,
// tentativelyAccepted, declined, notResponded).
type EventAttendeeSeed struct {
	Address  string `json:"address"`
	Type     string `json:"type"`
	Response string `json:"response"`
}

// RecurrenceSeed is a numbered daily or weekly series.
type RecurrenceSeed struct {
	Pattern    string   `json:"pattern"` // daily | weekly
	Interval   int      `json:"interval"`
	DaysOfWeek []string `json:"daysOfWeek"` // weekly; default the start's weekday
	Count      int      `json:"count"`      // occurrences; 0 = no end (capped)
}

// EventUpdate changes an event (or one occurrence, which then becomes an
// exception); nil fields are left alone.
type EventUpdate struct {
	Subject         *string    `json:"subject,omitempty"`
	Start           *time.Time `json:"start,omitempty"`
	End             *time.Time `json:"end,omitempty"`
	Location        *string    `json:"location,omitempty"`
	IsOnlineMeeting *bool      `json:"isOnlineMeeting,omitempty"`
}

// instance is one entry of a calendar view: a single event, an occurrence
// of a series or an exception.
type instance struct {
	id         string
	ev         *event // the event itself; the series master for occurrences
	kind       string // singleInstance | occurrence | exception
	start, end time.Time
	origStart  time.Time
}

func (in instance) changedSeq() int { return max(in.ev.createdSeq, in.ev.changedSeq) }

func occurrenceID(masterID string, orig time.Time) string {
	return outlookID("occurrence", masterID, fmt.Sprint(orig.Unix()))
}

// occurrenceStarts lists a series' original occurrence starts.
func (e *event) occurrenceStarts() []time.Time {
	rc := e.recur
	if rc == nil {
		return nil
	}
	n := rc.count
	if n <= 0 || n > maxOccurrences {
		n = maxOccurrences
	}
	interval := max(rc.interval, 1)
	var out []time.Time
	if rc.pattern == "daily" {
		for k := 0; len(out) < n; k++ {
			out = append(out, e.start.AddDate(0, 0, k*interval))
		}
		return out
	}
	days := rc.days
	if len(days) == 0 {
		days = []time.Weekday{e.start.Weekday()}
	}
	weekStart := e.start.AddDate(0, 0, -int(e.start.Weekday()))
	for w := 0; len(out) < n && w < maxOccurrences*7; w++ {
		for _, d := range days {
			t := weekStart.AddDate(0, 0, w*7*interval+int(d))
			if t.Before(e.start) || len(out) >= n {
				continue
			}
			out = append(out, t)
		}
	}
	return out
}

// allInstances lists every instance of the mailbox's calendar.
func (u *user) allInstances() []instance {
	exc := map[string]map[int64]bool{}
	for _, e := range u.events {
		if e.kind == "exception" {
			if exc[e.seriesMasterID] == nil {
				exc[e.seriesMasterID] = map[int64]bool{}
			}
			exc[e.seriesMasterID][e.originalStart.Unix()] = true
		}
	}
	var out []instance
	for _, e := range u.events {
		switch e.kind {
		case "seriesMaster":
			d := e.end.Sub(e.start)
			for _, st := range e.occurrenceStarts() {
				if e.removedOccurrences[st.Unix()] || exc[e.id][st.Unix()] {
					continue
				}
				out = append(out, instance{id: occurrenceID(e.id, st), ev: e, kind: "occurrence", start: st, end: st.Add(d), origStart: st})
			}
		default:
			out = append(out, instance{id: e.id, ev: e, kind: e.kind, start: e.start, end: e.end, origStart: e.originalStart})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].start.Equal(out[j].start) {
			return out[i].start.Before(out[j].start)
		}
		return out[i].id < out[j].id
	})
	return out
}

func overlaps(in instance, from, to time.Time) bool {
	return in.start.Before(to) && in.end.After(from)
}

// eventsChangedSince lists a calendarView delta round (S32): with since < 0
// every instance in the window; otherwise instances in the window created
// or changed after since, instances changed after since that are outside
// it (as removals), and instances deleted after since (as removals).
func eventsChangedSince(u *user, from, to time.Time, since int) []deltaEntry {
	var out []deltaEntry
	for _, in := range u.allInstances() {
		in := in
		switch {
		case overlaps(in, from, to):
			if since < 0 || in.changedSeq() > since {
				out = append(out, deltaEntry{id: in.id})
			}
		case since >= 0 && in.changedSeq() > since && in.kind != "occurrence":
			out = append(out, deltaEntry{id: in.id, removed: true})
		}
	}
	if since < 0 {
		return out
	}
	seen := map[string]bool{}
	for _, tb := range u.eventTombs {
		if tb.seq <= since || seen[tb.id] {
			continue
		}
		seen[tb.id] = true
		out = append(out, deltaEntry{id: tb.id, removed: true})
	}
	return out
}

// instanceByID finds an instance by id.
func (u *user) instanceByID(id string) (instance, bool) {
	for _, in := range u.allInstances() {
		if in.id == id {
			return in, true
		}
	}
	return instance{}, false
}

func (u *user) eventByID(id string) *event {
	for _, e := range u.events {
		if e.id == id {
			return e
		}
	}
	return nil
}

var weekdayNames = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// addEvent creates an event in the organizer's calendar and copies in
// tenant attendees' calendars, all with change sequence seq.
func (t *tenant) addEvent(es EventSeed, seq int) (string, error) {
	if es.Subject == "" {
		return "", errors.New("graphsim: event needs a subject and an end after its start")
	}
	return t.addEventWith(es, seq, nil)
}

// addEventWith is addEvent for Graph writes too: the subject may be empty,
// and opt (if set) adjusts the organizer's event before the attendees'
// copies are made from it. Attendees' copies never carry the organizer's
// transactionId or personal settings (categories).
func (t *tenant) addEventWith(es EventSeed, seq int, opt func(*event)) (string, error) {
	org := t.lookupUser(es.Organizer)
	if org == nil {
		org = t.userByAddress(es.Organizer)
	}
	if org == nil || org.mail == "" {
		return "", fmt.Errorf("%w: organizer %q", ErrNotFound, es.Organizer)
	}
	if es.Start.IsZero() || !es.End.After(es.Start) {
		return "", errors.New("graphsim: event needs a subject and an end after its start")
	}
	tz := es.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	if _, ok := loadZone(tz); !ok {
		return "", fmt.Errorf("graphsim: unknown time zone %q", tz)
	}
	t.seq++
	id := es.ID
	if id == "" {
		id = outlookID("event", t.id, org.id, fmt.Sprint(t.seq))
	}
	uid := "040000008200E00074C5B7101A82E008" + strings.ToUpper(deterministicGUID("ical", t.id, id)[:8]) + fmt.Sprintf("%08X", t.seq)
	base := event{
		iCalUID: uid, subject: es.Subject, bodyText: es.BodyText, location: es.Location,
		organizer: recipient{Name: org.displayName, Address: org.mail},
		start:     es.Start.UTC(), end: es.End.UTC(), timeZone: tz, isAllDay: es.IsAllDay, isOnline: es.IsOnlineMeeting,
		kind: "singleInstance", showAs: "busy", importance: "normal", sensitivity: "normal",
		createdAt: timeNow(), modifiedAt: timeNow(), createdSeq: seq,
		reminderMinutes: 15, reminderOn: true, responseRequested: true, allowNewTimeProposals: true,
		onlineProvider: "unknown",
	}
	if es.IsOnlineMeeting {
		base.onlineProvider = "teamsForBusiness"
	}
	if es.ShowAs != "" {
		base.showAs = es.ShowAs
	}
	if es.Importance != "" {
		base.importance = strings.ToLower(es.Importance)
	}
	if es.IsOnlineMeeting {
		base.joinURL = teamsJoinURL(uid)
	}
	if rs := es.Recurrence; rs != nil {
		rc := &recurrence{pattern: strings.ToLower(rs.Pattern), interval: rs.Interval, count: rs.Count}
		if rc.pattern != "daily" && rc.pattern != "weekly" {
			return "", fmt.Errorf("graphsim: recurrence pattern %q must be daily or weekly", rs.Pattern)
		}
		for _, d := range rs.DaysOfWeek {
			wd, ok := weekdayNames[strings.ToLower(d)]
			if !ok {
				return "", fmt.Errorf("graphsim: unknown day %q", d)
			}
			rc.days = append(rc.days, wd)
		}
		base.recur, base.kind = rc, "seriesMaster"
		base.removedOccurrences = map[int64]bool{}
	}
	for _, a := range es.Attendees {
		typ, resp := a.Type, a.Response
		if typ == "" {
			typ = "required"
		}
		if resp == "" {
			resp = "none"
		}
		base.attendees = append(base.attendees, attendee{who: t.recipientFor(a.Address), typ: typ, response: resp})
	}
	if opt != nil {
		opt(&base)
	}
	if org.eventByID(id) != nil {
		return "", fmt.Errorf("graphsim: event %q exists", id)
	}
	org.events = append(org.events, copyEvent(&base, id, "organizer"))
	for _, a := range base.attendees {
		if au := t.userByAddress(a.who.Address); au != nil && au != org && au.mail != "" {
			t.inviteAttendee(au, &base, a.response)
		}
	}
	return id, nil
}

// copyEvent makes a calendar's own copy of an event.
func copyEvent(base *event, id, response string) *event {
	e := *base
	e.id = id
	e.responseStatus = response
	e.attendees = append([]attendee(nil), base.attendees...)
	e.categories = append([]string(nil), base.categories...)
	if base.removedOccurrences != nil {
		e.removedOccurrences = map[int64]bool{}
		if response != "organizer" {
			for k, v := range base.removedOccurrences {
				e.removedOccurrences[k] = v
			}
		}
	}
	return &e
}

// inviteAttendee puts an attendee's copy of the meeting (organizer's event
// base) in au's calendar, keyed by the iCalUId.
func (t *tenant) inviteAttendee(au *user, base *event, response string) *event {
	e := copyEvent(base, outlookID("event", t.id, au.id, base.iCalUID), response)
	e.transactionID, e.categories = "", nil
	au.events = append(au.events, e)
	return e
}

// copiesOf lists every calendar's copy of an event (by iCalUId), with owners.
func (t *tenant) copiesOf(uid string) (owners []*user, evs []*event) {
	for _, u := range t.users {
		for _, e := range u.events {
			if e.iCalUID == uid && e.kind != "exception" {
				owners, evs = append(owners, u), append(evs, e)
			}
		}
	}
	return owners, evs
}

// CreateEvent creates an event in es.Organizer's calendar (and copies in
// tenant attendees' calendars) and returns the organizer's event ID.
// calendarView delta links of each calendar report it.
func (s *Server) CreateEvent(tenantID string, es EventSeed) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return "", fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	return t.addEvent(es, t.nextChange())
}

// UpdateEvent changes an event in every calendar that holds it. eventID
// may be a series occurrence's ID: that occurrence then becomes an
// exception in every copy.
func (s *Server) UpdateEvent(tenantID, userIDOrUPN, eventID string, up EventUpdate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return err
	}
	in, ok := u.instanceByID(eventID)
	if !ok {
		return fmt.Errorf("%w: event %q", ErrNotFound, eventID)
	}
	t.changeEvent(u, in, t.nextChange(), func(e *event) {
		if up.Subject != nil {
			e.subject = *up.Subject
		}
		if up.Start != nil {
			e.start = up.Start.UTC()
		}
		if up.End != nil {
			e.end = up.End.UTC()
		}
		if up.Location != nil {
			e.location = *up.Location
		}
		if up.IsOnlineMeeting != nil {
			e.isOnline = *up.IsOnlineMeeting
			if e.isOnline {
				e.onlineProvider = "teamsForBusiness"
				if e.joinURL == "" {
					e.joinURL = teamsJoinURL(e.iCalUID)
				}
			}
		}
	}, nil)
	return nil
}

func teamsJoinURL(uid string) string {
	return "https://teams.microsoft.com/l/meetup-join/19%3ameeting_" + strings.ReplaceAll(deterministicGUID("join", uid), "-", "") + "%40thread.v2/0"
}

// changeEvent applies shared to every copy of the instance's event and
// local to u's copy only (both may be nil), all with change sequence seq.
// A series occurrence becomes an exception in every copy.
func (t *tenant) changeEvent(u *user, in instance, seq int, shared, local func(*event)) {
	apply := func(owner *user, e *event) {
		if shared != nil {
			shared(e)
		}
		if local != nil && owner == u {
			local(e)
		}
		e.changeVersion++
		e.modifiedAt = timeNow()
		e.changedSeq = seq
	}
	owners, copies := t.copiesOf(in.ev.iCalUID)
	for i, c := range copies {
		if shared == nil && owners[i] != u {
			continue
		}
		if in.kind != "occurrence" {
			if in.kind == "exception" {
				// Exceptions are per calendar; find this copy's exception.
				for _, x := range owners[i].events {
					if x.kind == "exception" && x.seriesMasterID == c.id && x.originalStart.Equal(in.origStart) {
						apply(owners[i], x)
					}
				}
				continue
			}
			apply(owners[i], c)
			continue
		}
		x := *c
		x.id = outlookID("exception", c.id, fmt.Sprint(in.origStart.Unix()))
		x.kind, x.seriesMasterID, x.originalStart, x.recur, x.removedOccurrences = "exception", c.id, in.origStart, nil, nil
		x.attendees = append([]attendee(nil), c.attendees...)
		x.categories = append([]string(nil), c.categories...)
		x.start, x.end = in.start, in.end
		x.createdSeq = seq
		apply(owners[i], &x)
		owners[i].events = append(owners[i].events, &x)
		owners[i].eventTombs = append(owners[i].eventTombs, tombstone{id: occurrenceID(c.id, in.origStart), seq: seq})
	}
}

// SetEventResponse records an attendee's response (accepted,
// tentativelyAccepted, declined) in every copy of the event.
func (s *Server) SetEventResponse(tenantID, attendeeIDOrUPN, eventID, response string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, attendeeIDOrUPN)
	if err != nil {
		return err
	}
	e := u.eventByID(eventID)
	if e == nil {
		return fmt.Errorf("%w: event %q", ErrNotFound, eventID)
	}
	switch response {
	case "accepted", "tentativelyAccepted", "declined", "none", "notResponded":
	default:
		return fmt.Errorf("graphsim: response %q", response)
	}
	t.respondToEvent(u, e, response, true, t.nextChange())
	return nil
}

// respondToEvent records u's response on its copy e; with notify (the
// response is sent to the organizer) every copy's attendee entry for u
// changes too, else only u's own copy.
func (t *tenant) respondToEvent(u *user, e *event, response string, notify bool, seq int) {
	now := timeNow()
	_, copies := t.copiesOf(e.iCalUID)
	for _, c := range copies {
		if !notify && c != e {
			continue
		}
		for i := range c.attendees {
			if strings.EqualFold(c.attendees[i].who.Address, u.mail) {
				c.attendees[i].response = response
				c.attendees[i].at = now
			}
		}
		c.changeVersion++
		c.changedSeq = seq
	}
	e.responseStatus = response
	e.respondedAt = now
	e.modifiedAt = now
}

// CancelEvent cancels a meeting as its organizer: the organizer's event
// (or occurrence) is deleted, and attendees' copies are marked isCancelled
// with a "Canceled: " subject (a cancelled occurrence is removed from every
// copy).
func (s *Server) CancelEvent(tenantID, organizerIDOrUPN, eventID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, organizerIDOrUPN)
	if err != nil {
		return err
	}
	in, ok := u.instanceByID(eventID)
	if !ok {
		return fmt.Errorf("%w: event %q", ErrNotFound, eventID)
	}
	if in.ev.responseStatus != "organizer" {
		return errors.New("graphsim: only the organizer can cancel a meeting")
	}
	t.cancelEvent(u, in, t.nextChange())
	return nil
}

// cancelEvent cancels an organizer's meeting (or one occurrence).
func (t *tenant) cancelEvent(u *user, in instance, seq int) {
	owners, copies := t.copiesOf(in.ev.iCalUID)
	for i, c := range copies {
		if in.kind == "occurrence" {
			c.removedOccurrences[in.origStart.Unix()] = true
			owners[i].eventTombs = append(owners[i].eventTombs, tombstone{id: occurrenceID(c.id, in.origStart), seq: seq})
			continue
		}
		if in.kind == "exception" {
			// Exceptions are per calendar: cancel each copy's one.
			for _, x := range append([]*event(nil), owners[i].events...) {
				if x.kind != "exception" || x.seriesMasterID != c.id || !x.originalStart.Equal(in.origStart) {
					continue
				}
				if owners[i] == u {
					c.removedOccurrences[in.origStart.Unix()] = true
					owners[i].deleteEvent(x, seq)
				} else {
					cancelCopy(x, seq)
				}
			}
			continue
		}
		if owners[i] == u {
			owners[i].deleteEvent(c, seq)
			continue
		}
		cancelCopy(c, seq)
	}
}

// cancelCopy marks an attendee's copy cancelled, as a cancellation
// message does.
func cancelCopy(c *event, seq int) {
	c.isCancelled = true
	if !strings.HasPrefix(c.subject, "Canceled: ") {
		c.subject = "Canceled: " + c.subject
	}
	c.changeVersion++
	c.changedSeq = seq
}

// DeleteEvent deletes an event (or one occurrence) from one calendar.
func (s *Server) DeleteEvent(tenantID, userIDOrUPN, eventID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return err
	}
	if !u.deleteFromCalendar(eventID, t.nextChange()) {
		return fmt.Errorf("%w: event %q", ErrNotFound, eventID)
	}
	return nil
}

// deleteFromCalendar deletes an event, series master or occurrence from
// u's calendar only; false if there is no such item.
func (u *user) deleteFromCalendar(eventID string, seq int) bool {
	in, ok := u.instanceByID(eventID)
	if !ok {
		if e := u.eventByID(eventID); e != nil && e.kind == "seriesMaster" {
			u.deleteEvent(e, seq)
			return true
		}
		return false
	}
	if in.kind == "occurrence" {
		in.ev.removedOccurrences[in.origStart.Unix()] = true
		u.eventTombs = append(u.eventTombs, tombstone{id: in.id, seq: seq})
		return true
	}
	if in.kind == "exception" {
		// The occurrence must not come back once its exception is gone.
		if m := u.eventByID(in.ev.seriesMasterID); m != nil && m.removedOccurrences != nil {
			m.removedOccurrences[in.origStart.Unix()] = true
		}
	}
	u.deleteEvent(in.ev, seq)
	return true
}

// deleteEvent removes an event; a series master takes its occurrences and
// exceptions with it. Every removed instance id is tombstoned.
func (u *user) deleteEvent(e *event, seq int) {
	var ids []string
	if e.kind == "seriesMaster" {
		for _, in := range u.allInstances() {
			if in.ev == e || (in.kind == "exception" && in.ev.seriesMasterID == e.id) {
				ids = append(ids, in.id)
			}
		}
	} else {
		ids = append(ids, e.id)
	}
	kept := u.events[:0:0]
	for _, x := range u.events {
		if x == e || (e.kind == "seriesMaster" && x.seriesMasterID == e.id) {
			continue
		}
		kept = append(kept, x)
	}
	u.events = kept
	for _, id := range ids {
		u.eventTombs = append(u.eventTombs, tombstone{id: id, seq: seq})
	}
}
