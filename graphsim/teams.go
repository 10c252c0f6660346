package graphsim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Teams channel messages (api/channel-post-messages.md,
// api/channel-list-messages.md, api/chatmessage-get.md; §8):
//
//	POST /teams/{team-id}/channels/{channel-id}/messages        201 chatMessage
//	GET  /teams/{team-id}/channels/{channel-id}/messages        newest first, 20 a page, $top 1-50, $skiptoken nextLinks
//	GET  /teams/{team-id}/channels/{channel-id}/messages/{id}
//
// A team is a Microsoft 365 group (its id is the group's) with channels;
// its members are the group's user members (CreateTeam and the control
// API create one; AddGroupMember/RemoveGroupMember change membership).
// Posting is delegated only, with ChannelMessage.Send (or the legacy
// Group.ReadWrite.All), by a team member: other scopes get 403 Forbidden
// "Missing scope permissions on the request. API requires one of
// 'ChannelMessage.Send, Group.ReadWrite.All'. Scopes on the request '...'."
// and a non-member 403 Forbidden. App-only posting is for migration only:
// without Teamwork.Migrate.All the answer is 403 Forbidden "Missing role
// permissions on the request. API requires one of 'Teamwork.Migrate.All'.
// Roles on the request '...'." [obs], and with it (no team is in migration
// mode here) 401 Unauthorized "Message POST is allowed in application-only
// context only for import purposes. ..." [obs]. Listing needs
// ChannelMessage.Read.All (delegated or application; Group.Read.All and
// Group.ReadWrite.All are accepted for backward compatibility); delegated
// callers must be members. Unknown teams and channels give 404 NotFound.
// Other Teams routes, $expand other than replies (there are no replies),
// mentions, attachments and hosted contents answer 501.

var (
	permChannelSend        = []string{"ChannelMessage.Send", "Group.ReadWrite.All"}
	permChannelRead        = []string{"ChannelMessage.Read.All", "Group.Read.All", "Group.ReadWrite.All"}
	permChannelMigrate     = []string{"Teamwork.Migrate.All"}
	channelMessagesPage    = 20
	channelMessagesMaxPage = 50
)

type team struct {
	groupID  string
	owners   []string // user ids
	channels []*channel
}

type channel struct {
	id, displayName, description string
	createdAt                    time.Time
	messages                     []*chatMessage // oldest first
}

type chatMessage struct {
	id                   string // milliseconds since the epoch, as Teams ids are
	created              time.Time
	fromID, fromName     string
	subject              string
	contentType, content string // text | html
	importance           string // normal | high | urgent
	teamID, channelID    string
	tenantID             string
}

// TeamSeed creates a team: a Microsoft 365 group with a General channel
// and the given channels. ID is the group's id (derived like a group's
// when empty); an existing unified group with that id is team-enabled and
// gains the seed's members.
type TeamSeed struct {
	ID           string        `json:"id,omitempty"`
	DisplayName  string        `json:"displayName"`
	Description  string        `json:"description,omitempty"`
	MailNickname string        `json:"mailNickname,omitempty"`
	Owners       []string      `json:"owners,omitempty"`  // user ids or UPNs; owners are members too
	Members      []string      `json:"members,omitempty"` // user ids or UPNs
	Channels     []ChannelSeed `json:"channels,omitempty"`
}

// ChannelSeed is a standard channel.
type ChannelSeed struct {
	ID          string `json:"id,omitempty"` // "19:...@thread.tacv2"; derived when empty
	DisplayName string `json:"displayName"`
	Description string `json:"description,omitempty"`
}

// TeamInfo is a created team: its id and channels (General first).
type TeamInfo struct {
	ID       string        `json:"id"`
	Channels []ChannelInfo `json:"channels"`
}

// ChannelInfo names a channel.
type ChannelInfo struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// ChannelMessage is a posted channel message, for test assertions.
type ChannelMessage struct {
	ID          string    `json:"id"`
	CreatedAt   time.Time `json:"createdAt"`
	FromUserID  string    `json:"fromUserId"`
	FromName    string    `json:"fromName"`
	Subject     string    `json:"subject,omitempty"`
	ContentType string    `json:"contentType"`
	Content     string    `json:"content"`
	Importance  string    `json:"importance"`
}

func channelIDFor(teamID, name string) string {
	return "19:" + strings.ReplaceAll(deterministicGUID("channel", strings.ToLower(teamID), strings.ToLower(name)), "-", "") + "@thread.tacv2"
}

// teamFor finds a team whose group still exists.
func (t *tenant) teamFor(id string) *team {
	tm := t.teams[strings.ToLower(id)]
	if tm == nil || t.groupByID[strings.ToLower(id)] == nil {
		return nil
	}
	return tm
}

func (tm *team) channelByKey(key string) *channel {
	for _, c := range tm.channels {
		if c.id == key {
			return c
		}
	}
	for _, c := range tm.channels {
		if strings.EqualFold(c.displayName, key) {
			return c
		}
	}
	return nil
}

func (tm *team) info() TeamInfo {
	ti := TeamInfo{ID: tm.groupID}
	for _, c := range tm.channels {
		ti.Channels = append(ti.Channels, ChannelInfo{ID: c.id, DisplayName: c.displayName})
	}
	return ti
}

// CreateTeam creates a team (see TeamSeed) and returns its id and channels.
// groups/delta links report the new group.
func (s *Server) CreateTeam(tenantID string, ts TeamSeed) (TeamInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return TeamInfo{}, fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	var owners, members []string
	for _, k := range append(append([]string(nil), ts.Owners...), ts.Members...) {
		u := t.lookupUser(k)
		if u == nil {
			return TeamInfo{}, fmt.Errorf("%w: team member %q", ErrNotFound, k)
		}
		members = append(members, u.id)
	}
	for _, k := range ts.Owners {
		owners = append(owners, t.lookupUser(k).id)
	}
	g, err := t.buildGroup(GroupSeed{ID: ts.ID, DisplayName: ts.DisplayName, Description: ts.Description, Kind: "unified", MailNickname: ts.MailNickname})
	if err != nil {
		return TeamInfo{}, err
	}
	refs, err := t.resolveMembers(g, members)
	if err != nil {
		return TeamInfo{}, err
	}
	key := strings.ToLower(g.id)
	if t.teams[key] != nil && t.groupByID[key] != nil {
		return TeamInfo{}, fmt.Errorf("graphsim: team %q exists", g.id)
	}
	seq := t.nextChange()
	if old := t.groupByID[key]; old != nil {
		if len(old.groupTypes) == 0 {
			return TeamInfo{}, fmt.Errorf("graphsim: group %q is not a Microsoft 365 group", g.id)
		}
		all := append([]memberRef(nil), old.members...)
		for _, r := range refs {
			if !old.hasMember(r.id) {
				all = append(all, r)
			}
		}
		setMembers(old, all, seq)
		g = old
	} else {
		g.createdSeq = seq
		g.members = refs
		t.groups = append(t.groups, g)
		t.reindexGroups()
	}
	tm := &team{groupID: g.id, owners: owners}
	now := timeNow()
	tm.channels = append(tm.channels, &channel{id: channelIDFor(g.id, "General"), displayName: "General", createdAt: now})
	for _, cs := range ts.Channels {
		if _, err := tm.addChannel(cs, now); err != nil {
			return TeamInfo{}, err
		}
	}
	if t.teams == nil {
		t.teams = map[string]*team{}
	}
	t.teams[key] = tm
	return tm.info(), nil
}

func (tm *team) addChannel(cs ChannelSeed, now time.Time) (*channel, error) {
	if strings.TrimSpace(cs.DisplayName) == "" {
		return nil, errors.New("graphsim: channel without displayName")
	}
	if tm.channelByKey(cs.DisplayName) != nil {
		return nil, fmt.Errorf("graphsim: channel %q exists in team %q", cs.DisplayName, tm.groupID)
	}
	id := cs.ID
	if id == "" {
		id = channelIDFor(tm.groupID, cs.DisplayName)
	}
	if !strings.HasPrefix(id, "19:") || strings.ContainsAny(id, "/ ") {
		return nil, fmt.Errorf("graphsim: channel id %q must look like 19:...@thread.tacv2", id)
	}
	c := &channel{id: id, displayName: cs.DisplayName, description: cs.Description, createdAt: now}
	tm.channels = append(tm.channels, c)
	return c, nil
}

// AddChannel adds a standard channel to a team and returns its id.
func (s *Server) AddChannel(tenantID, teamID string, cs ChannelSeed) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return "", fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	tm := t.teamFor(teamID)
	if tm == nil {
		return "", fmt.Errorf("%w: team %q", ErrNotFound, teamID)
	}
	c, err := tm.addChannel(cs, timeNow())
	if err != nil {
		return "", err
	}
	return c.id, nil
}

// ChannelMessages returns a channel's messages (channel id or display
// name), newest first, for test assertions.
func (s *Server) ChannelMessages(tenantID, teamID, channelKey string) ([]ChannelMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return nil, fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	tm := t.teamFor(teamID)
	if tm == nil {
		return nil, fmt.Errorf("%w: team %q", ErrNotFound, teamID)
	}
	c := tm.channelByKey(channelKey)
	if c == nil {
		return nil, fmt.Errorf("%w: channel %q", ErrNotFound, channelKey)
	}
	out := make([]ChannelMessage, 0, len(c.messages))
	for i := len(c.messages) - 1; i >= 0; i-- {
		m := c.messages[i]
		out = append(out, ChannelMessage{ID: m.id, CreatedAt: m.created, FromUserID: m.fromID, FromName: m.fromName,
			Subject: m.subject, ContentType: m.contentType, Content: m.content, Importance: m.importance})
	}
	return out, nil
}

// routeTeams routes /teams/{id}/channels/{id}/messages[/{id}].
func (s *Server) routeTeams(g *graphRequest) {
	segs := g.segs
	if len(segs) >= 5 && strings.EqualFold(segs[2], "channels") && strings.EqualFold(segs[4], "messages") {
		switch {
		case len(segs) == 5:
			if g.r.Method == http.MethodPost {
				s.postChannelMessage(g, segs[1], segs[3])
				return
			}
			if g.method(http.MethodGet) {
				s.listChannelMessages(g, segs[1], segs[3])
			}
			return
		case len(segs) == 6 && !isDelta(segs[5]):
			if g.method(http.MethodGet) {
				s.getChannelMessage(g, segs[1], segs[3], segs[5])
			}
			return
		}
	}
	errNotSimulated(g.w, g.r, g.r.Method+" "+teamsRoute(segs))
}

func teamsRoute(segs []string) string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = s
		if i%2 == 1 {
			out[i] = "{id}"
		}
	}
	return "/" + strings.Join(out, "/")
}

// tokenPerms lists the token's roles or scopes as the token spells them,
// for Teams' "Missing ... permissions" messages.
func (s *Server) tokenPerms(g *graphRequest) string {
	_, tok, _ := strings.Cut(g.r.Header.Get("Authorization"), " ")
	if c, err := s.parseJWT(strings.TrimSpace(tok)); err == nil {
		if g.p.delegated {
			return strings.Join(strings.Fields(c.Scp), ", ")
		}
		return strings.Join(c.Roles, ", ")
	}
	var ps []string
	for p := range g.p.perms {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return strings.Join(ps, ", ")
}

// errTeamsPermission answers Teams' 403 for a missing scope or role.
func (s *Server) errTeamsPermission(g *graphRequest, need []string) {
	kind, have := "role", "Roles"
	if g.p.delegated {
		kind, have = "scope", "Scopes"
	}
	writeGraphError(g.w, g.r, http.StatusForbidden, "Forbidden",
		fmt.Sprintf("Missing %s permissions on the request. API requires one of '%s'. %s on the request '%s'.", kind, strings.Join(need, ", "), have, s.tokenPerms(g)))
}

// lockChannel resolves a team and channel and checks a delegated caller's
// membership; on success s.mu is held.
func (s *Server) lockChannel(g *graphRequest, teamID, channelID string) (*team, *channel, bool) {
	s.mu.Lock()
	t := g.p.tenant
	tm := t.teamFor(teamID)
	if tm == nil {
		s.mu.Unlock()
		writeGraphError(g.w, g.r, http.StatusNotFound, "NotFound", fmt.Sprintf("No team found with Group Id %s", teamID))
		return nil, nil, false
	}
	var c *channel
	for _, x := range tm.channels {
		if x.id == channelID {
			c = x
		}
	}
	if c == nil {
		s.mu.Unlock()
		writeGraphError(g.w, g.r, http.StatusNotFound, "NotFound", fmt.Sprintf("Channel %s not found in team %s.", channelID, teamID))
		return nil, nil, false
	}
	if g.p.delegated {
		grp := t.groupByID[strings.ToLower(tm.groupID)]
		if grp == nil || !grp.hasMember(g.p.oid) {
			s.mu.Unlock()
			writeGraphError(g.w, g.r, http.StatusForbidden, "Forbidden", "Forbidden: the user is not a member of the team.")
			return nil, nil, false
		}
	}
	return tm, c, true
}

// chatMessageWritable are the chatMessage properties a post may carry.
var chatMessageWritable = []string{"body", "subject", "importance", "summary", "mentions", "attachments", "hostedContents", "messageType", "locale"}

func (s *Server) postChannelMessage(g *graphRequest, teamID, channelID string) {
	w, r := g.w, g.r
	if !g.p.delegated {
		if g.p.has(permChannelMigrate...) {
			writeGraphError(w, r, http.StatusUnauthorized, "Unauthorized",
				"Message POST is allowed in application-only context only for import purposes. Refer to https://docs.microsoft.com/microsoftteams/platform/graph-api/import-messages/import-external-messages-to-teams for more details.")
			return
		}
		s.errTeamsPermission(g, permChannelMigrate)
		return
	}
	if !g.p.has(permChannelSend...) {
		s.errTeamsPermission(g, permChannelSend)
		return
	}
	m, ok := readJSONBody(g, true)
	if !ok {
		return
	}
	msg := &chatMessage{contentType: "text", importance: "normal"}
	for k, v := range m {
		if strings.HasPrefix(k, "@") {
			continue
		}
		key, unknown := canonicalProp(k, chatMessageWritable)
		if unknown {
			if strings.EqualFold(k, "createdDateTime") || strings.EqualFold(k, "from") {
				errBadRequest(w, r, "BadRequest", fmt.Sprintf("The property '%s' can be set only when importing messages into a team in migration mode.", k))
				return
			}
			errBadRequest(w, r, "BadRequest", fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.chatMessage'. Make sure to only use property names that are defined by the type or mark the type as open type.", k))
			return
		}
		switch key {
		case "body":
			o, isObj := v.(map[string]any)
			if !isObj {
				errBadRequest(w, r, "BadRequest", "The message body is invalid.")
				return
			}
			switch ct := strings.ToLower(ciString(o, "contentType")); ct {
			case "", "text":
			case "html":
				msg.contentType = "html"
			default:
				errBadRequest(w, r, "BadRequest", fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'microsoft.graph.bodyType'.", ct))
				return
			}
			msg.content = ciString(o, "content")
		case "subject":
			msg.subject, _ = v.(string)
		case "importance":
			iv, _ := v.(string)
			switch strings.ToLower(iv) {
			case "normal", "high", "urgent":
				msg.importance = strings.ToLower(iv)
			default:
				errBadRequest(w, r, "BadRequest", fmt.Sprintf("Cannot convert the literal '%v' to the expected type 'microsoft.graph.chatMessageImportance'.", v))
				return
			}
		case "messageType":
			if mt, _ := v.(string); !strings.EqualFold(mt, "message") {
				errBadRequest(w, r, "BadRequest", "Only messages of type 'message' can be posted.")
				return
			}
		case "locale", "summary":
		default: // mentions, attachments, hostedContents
			if a, isArr := v.([]any); v != nil && (!isArr || len(a) > 0) {
				errNotSimulated(w, r, key+" in channel messages")
				return
			}
		}
	}
	if strings.TrimSpace(msg.content) == "" {
		errBadRequest(w, r, "BadRequest", "Message body cannot be empty.")
		return
	}
	tm, c, ok := s.lockChannel(g, teamID, channelID)
	if !ok {
		return
	}
	u := g.p.tenant.lookupUser(g.p.oid)
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := now.UnixMilli()
	if n := len(c.messages); n > 0 {
		if last, _ := strconv.ParseInt(c.messages[n-1].id, 10, 64); last >= id {
			id = last + 1
			now = time.UnixMilli(id).UTC()
		}
	}
	msg.id, msg.created = strconv.FormatInt(id, 10), now
	msg.fromID = g.p.oid
	if u != nil {
		msg.fromName = u.displayName
	}
	msg.teamID, msg.channelID, msg.tenantID = tm.groupID, c.id, g.p.tenantID
	c.messages = append(c.messages, msg)
	entity := chatMessageJSON(msg)
	s.mu.Unlock()
	ctx := fmt.Sprintf("teams('%s')/channels('%s')/messages/$entity", tm.groupID, url.QueryEscape(c.id))
	writeGraphJSON(w, r, http.StatusCreated, append(object{{"@odata.context", contextURL(r, ctx)}}, entity...))
}

func msTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func chatMessageJSON(m *chatMessage) object {
	web := fmt.Sprintf("https://teams.microsoft.com/l/message/%s/%s?groupId=%s&tenantId=%s&createdTime=%s&parentMessageId=%s",
		url.QueryEscape(m.channelID), m.id, m.teamID, m.tenantID, m.id, m.id)
	return object{
		{"id", m.id}, {"replyToId", nil}, {"etag", m.id}, {"messageType", "message"},
		{"createdDateTime", msTime(m.created)}, {"lastModifiedDateTime", msTime(m.created)},
		{"lastEditedDateTime", nil}, {"deletedDateTime", nil}, {"subject", nullIfEmpty(m.subject)}, {"summary", nil},
		{"chatId", nil}, {"importance", m.importance}, {"locale", "en-us"}, {"webUrl", web},
		{"policyViolation", nil}, {"eventDetail", nil},
		{"from", object{{"application", nil}, {"device", nil}, {"user", object{
			{"id", m.fromID}, {"displayName", m.fromName}, {"userIdentityType", "aadUser"}}}}},
		{"body", object{{"contentType", m.contentType}, {"content", m.content}}},
		{"channelIdentity", object{{"teamId", m.teamID}, {"channelId", m.channelID}}},
		{"attachments", []object{}}, {"mentions", []object{}}, {"reactions", []object{}},
	}
}

// channelReadAllowed checks the list/get permission.
func (s *Server) channelReadAllowed(g *graphRequest) bool {
	if !g.p.has(permChannelRead...) {
		s.errTeamsPermission(g, []string{"ChannelMessage.Read.All"})
		return false
	}
	return true
}

func (s *Server) listChannelMessages(g *graphRequest, teamID, channelID string) {
	w, r, q := g.w, g.r, g.q
	if !s.channelReadAllowed(g) {
		return
	}
	withReplies := false
	for _, it := range q.expandItems {
		if !strings.EqualFold(it.name, "replies") || len(it.options) > 0 {
			errNotSimulated(w, r, "$expand other than replies on channel messages")
			return
		}
		withReplies = true
	}
	if q.hasSelect || q.filter != "" || q.orderBy != "" || q.search != "" || q.count != "" || q.hasSkip {
		errNotSimulated(w, r, "query options other than $top and $expand on channel messages")
		return
	}
	top := channelMessagesPage
	if q.hasTop {
		if q.top < 1 || q.top > channelMessagesMaxPage {
			errBadRequest(w, r, "BadRequest", fmt.Sprintf("Invalid page size: $top must be between 1 and %d.", channelMessagesMaxPage))
			return
		}
		top = q.top
	}
	offset := 0
	if q.hasSkipToken {
		b, err := base64.RawURLEncoding.DecodeString(q.skipToken)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "offset:") || n < 0 {
			errBadRequest(w, r, "BadRequest", "The skip token is invalid.")
			return
		}
		offset = n
	}
	tm, c, ok := s.lockChannel(g, teamID, channelID)
	if !ok {
		return
	}
	total := len(c.messages)
	start := min(offset, total)
	end := min(start+top, total)
	value := make([]object, 0, end-start)
	for i := start; i < end; i++ {
		item := chatMessageJSON(c.messages[total-1-i])
		if withReplies {
			item = append(item, kv{"replies@odata.context", contextURL(r, fmt.Sprintf("teams('%s')/channels('%s')/messages('%s')/replies", tm.groupID, url.QueryEscape(c.id), c.messages[total-1-i].id))}, kv{"replies", []object{}})
		}
		value = append(value, item)
	}
	s.mu.Unlock()
	body := object{{"@odata.context", contextURL(r, fmt.Sprintf("teams('%s')/channels('%s')/messages", tm.groupID, url.QueryEscape(c.id)))},
		{"@odata.count", len(value)}}
	if end < total {
		tok := base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
		body = append(body, kv{"@odata.nextLink", nextLinkURL(r, [][2]string{{"$skiptoken", tok}})})
	}
	body = append(body, kv{"value", value})
	writeGraphJSON(w, r, http.StatusOK, body)
}

func (s *Server) getChannelMessage(g *graphRequest, teamID, channelID, id string) {
	if !s.channelReadAllowed(g) {
		return
	}
	if g.q.hasSelect || g.q.expand != "" {
		errNotSimulated(g.w, g.r, "$select and $expand on a channel message")
		return
	}
	tm, c, ok := s.lockChannel(g, teamID, channelID)
	if !ok {
		return
	}
	var m *chatMessage
	for _, x := range c.messages {
		if x.id == id {
			m = x
		}
	}
	if m == nil {
		s.mu.Unlock()
		writeGraphError(g.w, g.r, http.StatusNotFound, "NotFound", fmt.Sprintf("Message %s not found in channel %s.", id, channelID))
		return
	}
	entity := chatMessageJSON(m)
	s.mu.Unlock()
	ctx := fmt.Sprintf("teams('%s')/channels('%s')/messages/$entity", tm.groupID, url.QueryEscape(c.id))
	writeGraphJSON(g.w, g.r, http.StatusOK, append(object{{"@odata.context", contextURL(g.r, ctx)}}, entity...))
}
