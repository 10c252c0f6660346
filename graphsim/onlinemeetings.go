package graphsim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Online meetings (S38; api/application-post-onlinemeetings.md,
// api/onlinemeeting-createorget.md, api/onlinemeeting-get.md,
// concepts/cloud-communication-online-meeting-application-access-policy.md):
//
//	POST /users/{id}/onlineMeetings               201 onlineMeeting (also /me)
//	POST /users/{id}/onlineMeetings/createOrGet   201 new, 200 the meeting with that externalId
//	GET  /users/{id}/onlineMeetings/{meetingId}
//
// Delegated callers need OnlineMeetings.ReadWrite (GET: OnlineMeetings.Read
// too) and may act only for themselves; app-only callers need
// OnlineMeetings.ReadWrite.All (GET: OnlineMeetings.Read.All too) and an
// application access policy granting the app the user (or the whole
// tenant): without one the answer is 403 Forbidden "No Application Access
// Policy found for this app". A missing permission is 403 Forbidden
// "Missing scope|role permissions on the request. ..." as Teams words it.
// Start/end default as createOrGet's notes say (now and +1 hour; end
// without start, or end before start, is 400). The meeting does not appear
// on the calendar. A createOrGet externalId is scoped to (tenant, user).
// Listing (GET with $filter on joinWebUrl), PATCH, DELETE, broadcast
// (live event) settings and recordings/transcripts answer 501.

var (
	permMeetingsWriteDelegated = []string{"OnlineMeetings.ReadWrite"}
	permMeetingsWriteApp       = []string{"OnlineMeetings.ReadWrite.All"}
	permMeetingsReadDelegated  = []string{"OnlineMeetings.Read", "OnlineMeetings.ReadWrite"}
	permMeetingsReadApp        = []string{"OnlineMeetings.Read.All", "OnlineMeetings.ReadWrite.All"}
)

type onlineMeeting struct {
	id, organizerID, externalID string
	subject                     string
	created, start, end         time.Time
	threadID, joinWebURL        string
	joinMeetingID, passcode     string
	passcodeRequired            bool
	allowedPresenters           string
	lobbyScope                  string
	entryExitAnnounced          bool
	allowMeetingChat            string
	attendees                   []meetingAttendee
}

type meetingAttendee struct {
	userID, upn, role string
}

// OnlineMeeting is a created meeting, for test assertions.
type OnlineMeeting struct {
	ID            string    `json:"id"`
	OrganizerID   string    `json:"organizerId"`
	ExternalID    string    `json:"externalId,omitempty"`
	Subject       string    `json:"subject"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	JoinWebURL    string    `json:"joinWebUrl"`
	JoinMeetingID string    `json:"joinMeetingId"`
}

// GrantOnlineMeetingPolicy grants the app (client ID) an application
// access policy for a user (ID or UPN), or for the whole tenant when
// userIDOrUPN is "" (Grant-CsApplicationAccessPolicy -Global).
func (s *Server) GrantOnlineMeetingPolicy(tenantID, clientID, userIDOrUPN string) error {
	return s.meetingPolicy(tenantID, clientID, userIDOrUPN, true)
}

// RevokeOnlineMeetingPolicy removes a grant made by GrantOnlineMeetingPolicy.
func (s *Server) RevokeOnlineMeetingPolicy(tenantID, clientID, userIDOrUPN string) error {
	return s.meetingPolicy(tenantID, clientID, userIDOrUPN, false)
}

func (s *Server) meetingPolicy(tenantID, clientID, userIDOrUPN string, grant bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	if t.apps[strings.ToLower(clientID)] == nil {
		return fmt.Errorf("%w: app %q in tenant %q", ErrNotFound, clientID, tenantID)
	}
	key := "*"
	if userIDOrUPN != "" {
		u := t.lookupUser(userIDOrUPN)
		if u == nil {
			return fmt.Errorf("%w: user %q", ErrNotFound, userIDOrUPN)
		}
		key = strings.ToLower(u.id)
	}
	app := strings.ToLower(clientID)
	if t.meetingPolicy == nil {
		t.meetingPolicy = map[string]map[string]bool{}
	}
	if t.meetingPolicy[app] == nil {
		t.meetingPolicy[app] = map[string]bool{}
	}
	if grant {
		t.meetingPolicy[app][key] = true
		return nil
	}
	if !t.meetingPolicy[app][key] {
		return fmt.Errorf("%w: online meeting policy of app %q for %q", ErrNotFound, clientID, userIDOrUPN)
	}
	delete(t.meetingPolicy[app], key)
	return nil
}

// OnlineMeetings returns the meetings a user organizes, oldest first.
func (s *Server) OnlineMeetings(tenantID, userIDOrUPN string) ([]OnlineMeeting, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return nil, err
	}
	var out []OnlineMeeting
	for _, m := range t.onlineMeetings {
		if m.organizerID == u.id {
			out = append(out, OnlineMeeting{ID: m.id, OrganizerID: m.organizerID, ExternalID: m.externalID, Subject: m.subject,
				Start: m.start, End: m.end, JoinWebURL: m.joinWebURL, JoinMeetingID: m.joinMeetingID})
		}
	}
	return out, nil
}

// routeOnlineMeetings routes /users/{id}/onlineMeetings[/createOrGet | /{id}].
func (s *Server) routeOnlineMeetings(g *graphRequest) {
	rest := g.segs[3:]
	switch {
	case len(rest) == 0:
		if g.r.Method == http.MethodPost {
			s.createOnlineMeeting(g, false)
			return
		}
		errNotSimulated(g.w, g.r, g.r.Method+" /users/{id}/onlineMeetings")
	case len(rest) == 1 && strings.EqualFold(strings.TrimPrefix(rest[0], "microsoft.graph."), "createOrGet"):
		if g.method(http.MethodPost) {
			s.createOnlineMeeting(g, true)
		}
	case len(rest) == 1 && !strings.HasPrefix(rest[0], "$"):
		if g.method(http.MethodGet) {
			s.getOnlineMeeting(g, rest[0])
		}
	default:
		errNotSimulated(g.w, g.r, g.r.Method+" /users/{id}/onlineMeetings/"+strings.Join(rest, "/"))
	}
}

// lockMeetingUser checks the caller's permission and policy and resolves
// the user; on success s.mu is held.
func (s *Server) lockMeetingUser(g *graphRequest, write bool) (*user, bool) {
	need := permMeetingsReadApp
	switch {
	case g.p.delegated && write:
		need = permMeetingsWriteDelegated
	case g.p.delegated:
		need = permMeetingsReadDelegated
	case write:
		need = permMeetingsWriteApp
	}
	if !g.p.has(need...) {
		s.errTeamsPermission(g, need)
		return nil, false
	}
	s.mu.Lock()
	t := g.p.tenant
	u := t.lookupUser(g.userKey())
	fail := func(status int, code, msg string) (*user, bool) {
		s.mu.Unlock()
		writeGraphError(g.w, g.r, status, code, msg)
		return nil, false
	}
	if u == nil {
		return fail(http.StatusNotFound, "NotFound", fmt.Sprintf("The user '%s' could not be found.", g.userKey()))
	}
	if g.p.delegated && !strings.EqualFold(u.id, g.p.oid) {
		return fail(http.StatusForbidden, "Forbidden", "The signed-in user can create and read only its own online meetings.")
	}
	if !g.p.delegated {
		pol := t.meetingPolicy[strings.ToLower(g.p.clientID)]
		if !pol["*"] && !pol[strings.ToLower(u.id)] {
			return fail(http.StatusForbidden, "Forbidden", "No Application Access Policy found for this app")
		}
	}
	return u, true
}

// meetingWritable are the onlineMeeting properties a create may carry.
var meetingWritable = []string{
	"startDateTime", "endDateTime", "subject", "externalId", "participants", "joinMeetingIdSettings",
	"lobbyBypassSettings", "allowedPresenters", "isEntryExitAnnounced", "allowMeetingChat",
}

// meetingNotSimulated are real properties the simulator does not store.
var meetingNotSimulated = []string{
	"isBroadcast", "broadcastSettings", "audioConferencing", "chatInfo", "joinInformation", "recordAutomatically",
	"allowAttendeeToEnableCamera", "allowAttendeeToEnableMic", "allowTeamworkReactions", "watermarkProtection",
	"allowRecording", "allowTranscription", "shareMeetingChatHistoryDefault", "chatRestrictions",
}

func parseOffsetTime(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999Z07:00"} {
		if t, err := time.Parse(layout, strings.TrimSpace(v)); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (s *Server) createOnlineMeeting(g *graphRequest, createOrGet bool) {
	w, r := g.w, g.r
	m, ok := readJSONBody(g, true)
	if !ok {
		return
	}
	mt := &onlineMeeting{allowedPresenters: "everyone", lobbyScope: "organization", entryExitAnnounced: true, allowMeetingChat: "enabled"}
	var startS, endS string
	for k, v := range m {
		if strings.HasPrefix(k, "@") {
			continue
		}
		key, unknown := canonicalProp(k, meetingWritable)
		if unknown {
			if nk, no := canonicalProp(k, meetingNotSimulated); !no {
				if v == nil || v == false {
					continue
				}
				errNotSimulated(w, r, nk+" on online meetings")
				return
			}
			errBadRequest(w, r, "BadRequest", fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.onlineMeeting'. Make sure to only use property names that are defined by the type or mark the type as open type.", k))
			return
		}
		str, _ := v.(string)
		switch key {
		case "startDateTime":
			startS = str
		case "endDateTime":
			endS = str
		case "subject":
			mt.subject = str
		case "externalId":
			mt.externalID = str
		case "allowedPresenters":
			mt.allowedPresenters = str
		case "allowMeetingChat":
			mt.allowMeetingChat = str
		case "isEntryExitAnnounced":
			b, err := ciBool(m, k, true)
			if err != nil {
				errBadRequest(w, r, "BadRequest", err.Error())
				return
			}
			mt.entryExitAnnounced = b
		case "lobbyBypassSettings":
			if sc := ciString(ciObject(m, k), "scope"); sc != "" {
				mt.lobbyScope = sc
			}
		case "joinMeetingIdSettings":
			b, err := ciBool(ciObject(m, k), "isPasscodeRequired", false)
			if err != nil {
				errBadRequest(w, r, "BadRequest", err.Error())
				return
			}
			mt.passcodeRequired = b
		case "participants":
			p := ciObject(m, k)
			for pk := range p {
				if !strings.EqualFold(pk, "attendees") && !strings.EqualFold(pk, "organizer") && !strings.HasPrefix(pk, "@") {
					errNotSimulated(w, r, "participants."+pk+" on online meetings")
					return
				}
			}
			for _, x := range ciArray(p, "attendees") {
				o, _ := x.(map[string]any)
				mt.attendees = append(mt.attendees, meetingAttendee{
					userID: ciString(ciObject(ciObject(o, "identity"), "user"), "id"), upn: ciString(o, "upn"), role: ciString(o, "role")})
			}
		}
	}
	if createOrGet && strings.TrimSpace(mt.externalID) == "" {
		errBadRequest(w, r, "BadRequest", "The externalId is required.")
		return
	}
	now := time.Now().UTC()
	mt.created, mt.start = now, now
	if startS != "" {
		st, ok := parseOffsetTime(startS)
		if !ok {
			errBadRequest(w, r, "BadRequest", fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", startS))
			return
		}
		mt.start = st
	}
	mt.end = mt.start.Add(time.Hour)
	if endS != "" {
		if startS == "" {
			errBadRequest(w, r, "BadRequest", "The endDateTime cannot be provided without the startDateTime.")
			return
		}
		en, ok := parseOffsetTime(endS)
		if !ok {
			errBadRequest(w, r, "BadRequest", fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", endS))
			return
		}
		if en.Before(mt.start) {
			errBadRequest(w, r, "BadRequest", "The endDateTime must be later than the startDateTime.")
			return
		}
		mt.end = en
	}
	u, ok := s.lockMeetingUser(g, true)
	if !ok {
		return
	}
	t := g.p.tenant
	status := http.StatusCreated
	var existing *onlineMeeting
	if createOrGet {
		for _, x := range t.onlineMeetings {
			if x.organizerID == u.id && x.externalID == mt.externalID {
				existing = x
			}
		}
	}
	if existing != nil {
		mt, status = existing, http.StatusOK
	} else {
		t.seq++
		key := deterministicGUID("meeting", t.id, u.id, fmt.Sprint(t.seq), randomGUID())
		x := base64.RawURLEncoding.EncodeToString([]byte(key))
		mt.organizerID = u.id
		mt.threadID = "19:meeting_" + x[:43] + "@thread.v2"
		mt.id = base64.RawURLEncoding.EncodeToString([]byte("1*" + u.id + "*0**" + mt.threadID))
		ctx := url.QueryEscape(fmt.Sprintf(`{"Tid":"%s","Oid":"%s"}`, t.id, u.id))
		mt.joinWebURL = "https://teams.microsoft.com/l/meetup-join/" + url.QueryEscape(mt.threadID) + "/0?context=" + ctx
		digits := strings.Map(func(c rune) rune {
			if c >= '0' && c <= '9' {
				return c
			}
			return -1
		}, strings.ReplaceAll(deterministicGUID("joinid", key), "-", "")+"1234567890")
		mt.joinMeetingID = digits[:12]
		if mt.passcodeRequired {
			mt.passcode = strings.ToUpper(key[:6])
		}
		t.onlineMeetings = append(t.onlineMeetings, mt)
	}
	body := onlineMeetingJSON(t, u, mt)
	s.mu.Unlock()
	ctx := fmt.Sprintf("users('%s')/onlineMeetings/$entity", g.userKey())
	writeGraphJSON(w, r, status, append(object{{"@odata.type", "#microsoft.graph.onlineMeeting"}, {"@odata.context", contextURL(r, ctx)}}, body...))
}

func (s *Server) getOnlineMeeting(g *graphRequest, id string) {
	if g.q.hasSelect || g.q.expand != "" || g.q.filter != "" {
		errNotSimulated(g.w, g.r, "query options on an online meeting")
		return
	}
	u, ok := s.lockMeetingUser(g, false)
	if !ok {
		return
	}
	t := g.p.tenant
	var mt *onlineMeeting
	for _, x := range t.onlineMeetings {
		if x.id == id && x.organizerID == u.id {
			mt = x
		}
	}
	if mt == nil {
		s.mu.Unlock()
		writeGraphError(g.w, g.r, http.StatusNotFound, "NotFound", "The online meeting was not found.")
		return
	}
	body := onlineMeetingJSON(t, u, mt)
	s.mu.Unlock()
	ctx := fmt.Sprintf("users('%s')/onlineMeetings/$entity", g.userKey())
	writeGraphJSON(g.w, g.r, http.StatusOK, append(object{{"@odata.context", contextURL(g.r, ctx)}}, body...))
}

func meetingTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

func onlineMeetingJSON(t *tenant, u *user, m *onlineMeeting) object {
	identity := func(id string) object {
		return object{{"user", object{{"id", id}, {"displayName", nil}, {"tenantId", t.id}, {"identityProvider", "AAD"}}}}
	}
	attendees := []object{}
	for _, a := range m.attendees {
		var role any
		if a.role != "" {
			role = a.role
		}
		attendees = append(attendees, object{{"upn", a.upn}, {"role", role}, {"identity", identity(a.userID)}})
	}
	var passcode any
	if m.passcode != "" {
		passcode = m.passcode
	}
	upn := u.upn
	if upn == "" {
		upn = u.mail
	}
	return object{
		{"id", m.id}, {"creationDateTime", meetingTime(m.created)}, {"startDateTime", meetingTime(m.start)},
		{"endDateTime", meetingTime(m.end)}, {"joinWebUrl", m.joinWebURL}, {"subject", nullIfEmpty(m.subject)},
		{"isBroadcast", false}, {"allowedPresenters", m.allowedPresenters}, {"isEntryExitAnnounced", m.entryExitAnnounced},
		{"allowMeetingChat", m.allowMeetingChat}, {"allowTeamworkReactions", true}, {"allowAttendeeToEnableCamera", true},
		{"allowAttendeeToEnableMic", true}, {"recordAutomatically", false},
		{"videoTeleconferenceId", nil}, {"externalId", nullIfEmpty(m.externalID)},
		{"participants", object{
			{"organizer", object{{"upn", upn}, {"role", "presenter"}, {"identity", identity(m.organizerID)}}},
			{"attendees", attendees}, {"producers", []object{}}, {"contributors", []object{}},
		}},
		{"lobbyBypassSettings", object{{"scope", m.lobbyScope}, {"isDialInBypassEnabled", false}}},
		{"audioConferencing", nil},
		{"chatInfo", object{{"threadId", m.threadID}, {"messageId", "0"}, {"replyChainMessageId", nil}}},
		{"joinMeetingIdSettings", object{{"isPasscodeRequired", m.passcodeRequired}, {"joinMeetingId", m.joinMeetingID}, {"passcode", passcode}}},
	}
}
