package graphsim

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Directory relationships and groups (S40; api/user-list-manager.md,
// api/user-list-directreports.md, api/group-list.md,
// api/group-list-members.md, api/group-delta.md):
//
//	GET /users/{id}/manager            the manager, or 404 Request_ResourceNotFound
//	GET /users/{id}/directReports      directoryObject collection with @odata.type
//	GET /users[/{id}]?$expand=manager[($levels=n|max;$select=...)]
//	GET /groups, /groups/{id}, /groups/{id}/members, /groups/delta

var (
	permGroupsApp       = []string{"GroupMember.Read.All", "Group.Read.All", "Directory.Read.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}
	permGroupMembersApp = append([]string{"User.Read.All"}, permGroupsApp...) // api/group-list-members.md also lists User.Read.All
)

func (p *principal) canReadGroups(members bool) bool {
	if members {
		return p.has(permGroupMembersApp...) || (p.delegated && p.has("User.ReadBasic.All"))
	}
	return p.has(permGroupsApp...)
}

// userObject renders a user as a directoryObject: @odata.type first.
func userObject(t *tenant, u *user, props []string) object {
	return append(object{{"@odata.type", "#microsoft.graph.user"}}, userJSON(t, u, props)...)
}

// managerExpand is a validated $expand=manager.
type managerExpand struct {
	on     bool
	levels int // 1 = only the manager; 0 = max
	props  []string
}

// parseManagerExpand accepts $expand=manager with optional $levels
// (n or max) and $select; anything else answers 501. On false the error
// has been written.
func parseManagerExpand(g *graphRequest) (managerExpand, bool) {
	var me managerExpand
	for _, it := range g.q.expandItems {
		if !strings.EqualFold(it.name, "manager") {
			errNotSimulated(g.w, g.r, fmt.Sprintf("$expand=%s on users (only manager)", it.name))
			return me, false
		}
		me.on, me.levels = true, 1
		for k, v := range it.options {
			switch k {
			case "$levels":
				if strings.EqualFold(v, "max") {
					me.levels = 0
					continue
				}
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 1000 {
					errBadRequest(g.w, g.r, "Request_BadRequest", fmt.Sprintf("Invalid $levels value '%s': use max or a number between 1 and 1000.", v))
					return me, false
				}
				me.levels = n
			case "$select":
				props, bad := canonicalProps(splitSelect(v), userSelectableProps)
				if bad != "" {
					errBadRequest(g.w, g.r, "Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.user'.", bad))
					return me, false
				}
				me.props = props
			default:
				errNotSimulated(g.w, g.r, fmt.Sprintf("%s inside $expand=manager", k))
				return me, false
			}
		}
	}
	return me, true
}

// withManager appends the expanded manager chain to a rendered user.
// Callers hold s.mu.
func withManager(t *tenant, u *user, o object, me managerExpand) object {
	if !me.on {
		return o
	}
	var chain func(x *user, depth int) object
	chain = func(x *user, depth int) object {
		m := t.lookupUser(x.managerID)
		if m == nil {
			return nil
		}
		mo := userObject(t, m, me.props)
		if me.levels == 0 || depth < me.levels {
			if next := chain(m, depth+1); next != nil {
				mo = append(mo, kv{"manager", next})
			}
		}
		return mo
	}
	if mo := chain(u, 1); mo != nil {
		o = append(o, kv{"manager", mo})
	}
	return o
}

// getManager is GET /users/{id}/manager (S40).
func (s *Server) getManager(g *graphRequest) {
	w, r := g.w, g.r
	if !g.p.canReadUsers(false) {
		errDirectoryDenied(w, r)
		return
	}
	props, bad := canonicalProps(g.q.selects, userSelectableProps)
	if bad != "" {
		errBadRequest(w, r, "Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.user'.", bad))
		return
	}
	if g.q.expand != "" || g.q.filter != "" {
		errNotSimulated(w, r, "$expand and $filter on /users/{id}/manager")
		return
	}
	s.mu.Lock()
	t := g.p.tenant
	u := t.lookupUser(g.userKey())
	if u == nil {
		s.mu.Unlock()
		errNotFoundDirectory(w, r, g.userKey())
		return
	}
	m := t.lookupUser(u.managerID)
	if m == nil {
		s.mu.Unlock()
		errNotFoundDirectory(w, r, "manager")
		return
	}
	entity := userObject(t, m, props)
	s.mu.Unlock()
	body := append(object{{"@odata.context", contextURL(r, "directoryObjects"+selectSuffix(props)+"/$entity")}}, entity...)
	writeGraphJSON(w, r, http.StatusOK, body)
}

// listDirectReports is GET /users/{id}/directReports.
func (s *Server) listDirectReports(g *graphRequest) {
	w, r := g.w, g.r
	if !g.p.canReadUsers(false) {
		errDirectoryDenied(w, r)
		return
	}
	s.mu.Lock()
	t := g.p.tenant
	u := t.lookupUser(g.userKey())
	if u == nil {
		s.mu.Unlock()
		errNotFoundDirectory(w, r, g.userKey())
		return
	}
	var objs []dirObject
	for _, x := range t.users {
		if x.managerID == u.id {
			objs = append(objs, dirObject{id: x.id, u: x})
		}
	}
	s.mu.Unlock()
	s.serveDirObjects(g, objs, "directoryObjects")
}

// dirObject is a user or group in a directoryObject collection.
type dirObject struct {
	id string
	u  *user
	gr *group
}

// serveDirObjects pages a directoryObject collection sorted by id: 100 a
// page, $top 1-999, $skiptoken nextLinks, $select over user and group
// properties (a property the type lacks is left out).
func (s *Server) serveDirObjects(g *graphRequest, objs []dirObject, ctx string) {
	w, r, q := g.w, g.r, g.q
	if q.filter != "" || q.search != "" || q.orderBy != "" || q.expand != "" || q.count != "" {
		errNotSimulated(w, r, "$filter, $search, $orderby, $expand and $count on directoryObject collections")
		return
	}
	if q.hasSkip {
		errBadRequest(w, r, "Request_BadRequest", "'$skip' is not supported by the service.")
		return
	}
	top := usersDefaultPage
	if q.hasTop {
		if q.top < 1 || q.top > usersMaxPage {
			errBadRequest(w, r, "Request_UnsupportedQuery", fmt.Sprintf("Invalid page size specified: '%d'. Must be between 1 and 999 inclusive.", q.top))
			return
		}
		top = q.top
	}
	known := append(append([]string(nil), userSelectableProps...), groupProps...)
	props, bad := canonicalProps(q.selects, known)
	if bad != "" {
		errBadRequest(w, r, "Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.directoryObject'.", bad))
		return
	}
	after := ""
	if q.skipToken != "" {
		var ok bool
		if after, ok = decodeUsersSkipToken(q.skipToken); !ok {
			errBadRequest(w, r, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
			return
		}
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].id < objs[j].id })
	start := sort.Search(len(objs), func(i int) bool { return objs[i].id > after })
	end := min(start+top, len(objs))
	s.mu.Lock()
	t := g.p.tenant
	value := make([]object, 0, end-start)
	for _, o := range objs[start:end] {
		if o.u != nil {
			value = append(value, userObject(t, o.u, filterProps(props, userSelectableProps, userDefaultProps)))
		} else {
			value = append(value, groupObject(o.gr, filterProps(props, groupProps, groupProps)))
		}
	}
	s.mu.Unlock()
	body := object{{"@odata.context", contextURL(r, ctx+selectSuffix(props))}}
	if end < len(objs) {
		body = append(body, kv{"@odata.nextLink", nextLinkURL(r, [][2]string{{"$skiptoken", encodeUsersSkipToken(objs[end-1].id)}})})
	}
	body = append(body, kv{"value", value})
	writeGraphJSON(w, r, http.StatusOK, body)
}

// filterProps keeps the selected properties a type has; with no $select
// it returns the type's defaults. id is always kept.
func filterProps(selected, has, defaults []string) []string {
	if len(selected) == 0 {
		return defaults
	}
	out := []string{}
	for _, p := range selected {
		for _, h := range has {
			if p == h {
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		out = []string{"id"}
	}
	return out
}

// Groups.

// groupProps are the group properties returned by default, in the order of
// api/group-list.md's example.
var groupProps = []string{
	"id", "deletedDateTime", "classification", "createdDateTime", "description", "displayName", "expirationDateTime",
	"groupTypes", "isAssignableToRole", "mail", "mailEnabled", "mailNickname", "membershipRule",
	"membershipRuleProcessingState", "onPremisesLastSyncDateTime", "onPremisesSecurityIdentifier",
	"onPremisesSyncEnabled", "preferredDataLocation", "preferredLanguage", "proxyAddresses", "renewedDateTime",
	"resourceBehaviorOptions", "resourceProvisioningOptions", "securityEnabled", "theme", "visibility",
	"onPremisesProvisioningErrors",
}

func groupValue(gr *group, prop string) any {
	nilIfEmpty := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	switch prop {
	case "id":
		return gr.id
	case "createdDateTime", "renewedDateTime":
		return time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC).Format(time.RFC3339)
	case "description":
		return nilIfEmpty(gr.description)
	case "displayName":
		return gr.displayName
	case "groupTypes":
		if gr.groupTypes == nil {
			return []string{}
		}
		return gr.groupTypes
	case "mail":
		return nilIfEmpty(gr.mail)
	case "mailEnabled":
		return gr.mailEnabled
	case "mailNickname":
		return gr.mailNickname
	case "proxyAddresses":
		if gr.mail == "" {
			return []string{}
		}
		return []string{"SMTP:" + gr.mail}
	case "resourceBehaviorOptions", "resourceProvisioningOptions", "onPremisesProvisioningErrors":
		return []string{}
	case "securityEnabled":
		return gr.securityEnabled
	case "visibility":
		return nilIfEmpty(gr.visibility)
	}
	return nil
}

func groupJSON(gr *group, props []string) object {
	if len(props) == 0 {
		props = groupProps
	}
	o := object{{"id", gr.id}}
	for _, p := range props {
		if p != "id" {
			o = append(o, kv{p, groupValue(gr, p)})
		}
	}
	return o
}

func groupObject(gr *group, props []string) object {
	return append(object{{"@odata.type", "#microsoft.graph.group"}}, groupJSON(gr, props)...)
}

// groupFilter evaluates the $filter forms supported on /groups:
// groupTypes/any(c:c eq 'Unified') and "<property> eq <literal>".
func groupFilter(v string) (func(*group) bool, bool) {
	norm := strings.Join(strings.Fields(v), " ")
	lower := strings.ToLower(norm)
	if strings.HasPrefix(lower, "grouptypes/any(") && strings.HasSuffix(lower, ")") {
		inner := norm[len("groupTypes/any(") : len(norm)-1]
		varName, cond, ok := strings.Cut(inner, ":")
		if !ok {
			return nil, false
		}
		f, ok := parseSimpleFilter(cond)
		if !ok || f.prop != strings.TrimSpace(varName) || f.op != "eq" || f.kind != 's' {
			return nil, false
		}
		return func(gr *group) bool {
			for _, gt := range gr.groupTypes {
				if strings.EqualFold(gt, f.str) {
					return true
				}
			}
			return false
		}, true
	}
	f, ok := parseSimpleFilter(norm)
	if !ok {
		return nil, false
	}
	canon, bad := canonicalProps([]string{f.prop}, []string{"id", "displayName", "mail", "mailNickname", "mailEnabled", "securityEnabled"})
	if bad != "" || (f.op != "eq" && f.op != "ne") {
		return nil, false
	}
	return func(gr *group) bool { return f.match(groupValue(gr, canon[0])) }, true
}

// listGroups is GET /groups: 100 a page, $top 1-999, $skiptoken, $select
// and the $filter forms of groupFilter.
func (s *Server) listGroups(g *graphRequest) {
	w, r, q := g.w, g.r, g.q
	if !g.p.canReadGroups(false) {
		errDirectoryDenied(w, r)
		return
	}
	if q.search != "" || q.orderBy != "" || q.expand != "" || q.count != "" {
		errNotSimulated(w, r, "$search, $orderby, $expand and $count on /groups")
		return
	}
	if q.hasSkip {
		errBadRequest(w, r, "Request_BadRequest", "'$skip' is not supported by the service.")
		return
	}
	keep := func(*group) bool { return true }
	if q.filter != "" {
		f, ok := groupFilter(q.filter)
		if !ok {
			errNotSimulated(w, r, fmt.Sprintf("$filter '%s' on /groups", q.filter))
			return
		}
		keep = f
	}
	top := usersDefaultPage
	if q.hasTop {
		if q.top < 1 || q.top > usersMaxPage {
			errBadRequest(w, r, "Request_UnsupportedQuery", fmt.Sprintf("Invalid page size specified: '%d'. Must be between 1 and 999 inclusive.", q.top))
			return
		}
		top = q.top
	}
	props, bad := canonicalProps(q.selects, groupProps)
	if bad != "" {
		errBadRequest(w, r, "Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.group'.", bad))
		return
	}
	after := ""
	if q.skipToken != "" {
		var ok bool
		if after, ok = decodeUsersSkipToken(q.skipToken); !ok {
			errBadRequest(w, r, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
			return
		}
	}
	s.mu.Lock()
	var page []object
	more, lastID := false, ""
	for _, gr := range g.p.tenant.groups {
		if gr.id <= after || !keep(gr) {
			continue
		}
		if len(page) == top {
			more = true
			break
		}
		page = append(page, groupJSON(gr, props))
		lastID = gr.id
	}
	s.mu.Unlock()
	if page == nil {
		page = []object{}
	}
	body := object{{"@odata.context", contextURL(r, "groups"+selectSuffix(props))}}
	if more {
		body = append(body, kv{"@odata.nextLink", nextLinkURL(r, [][2]string{{"$skiptoken", encodeUsersSkipToken(lastID)}})})
	}
	body = append(body, kv{"value", page})
	writeGraphJSON(w, r, http.StatusOK, body)
}

// getGroup is GET /groups/{id}.
func (s *Server) getGroup(g *graphRequest, id string) {
	w, r := g.w, g.r
	if !g.p.canReadGroups(false) {
		errDirectoryDenied(w, r)
		return
	}
	if g.q.expand != "" {
		errNotSimulated(w, r, "$expand on /groups/{id}")
		return
	}
	props, bad := canonicalProps(g.q.selects, groupProps)
	if bad != "" {
		errBadRequest(w, r, "Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.group'.", bad))
		return
	}
	s.mu.Lock()
	gr := g.p.tenant.groupByID[strings.ToLower(id)]
	var entity object
	if gr != nil {
		entity = groupJSON(gr, props)
	}
	s.mu.Unlock()
	if gr == nil {
		errNotFoundDirectory(w, r, id)
		return
	}
	writeGraphJSON(w, r, http.StatusOK, append(object{{"@odata.context", contextURL(r, "groups"+selectSuffix(props)+"/$entity")}}, entity...))
}

// listGroupMembers is GET /groups/{id}/members: direct members only (not
// transitive), users and groups with @odata.type.
func (s *Server) listGroupMembers(g *graphRequest, id string) {
	w, r := g.w, g.r
	if !g.p.canReadGroups(true) {
		errDirectoryDenied(w, r)
		return
	}
	s.mu.Lock()
	t := g.p.tenant
	gr := t.groupByID[strings.ToLower(id)]
	var objs []dirObject
	if gr != nil {
		for _, m := range gr.members {
			if m.isGroup {
				if x := t.groupByID[strings.ToLower(m.id)]; x != nil {
					objs = append(objs, dirObject{id: x.id, gr: x})
				}
			} else if x := t.lookupUser(m.id); x != nil {
				objs = append(objs, dirObject{id: x.id, u: x})
			}
		}
	}
	s.mu.Unlock()
	if gr == nil {
		errNotFoundDirectory(w, r, id)
		return
	}
	s.serveDirObjects(g, objs, "directoryObjects")
}

// groupsDelta is GET /groups/delta (api/group-delta.md): 100 groups a page,
// $select (id always; "members" tracks membership), members@delta with
// {"@odata.type","id"} entries (removed members carry "@removed"), removed
// groups as {"id","@removed":{"reason":"deleted"}}, and Prefer:
// return=minimal on deltaLink rounds. Without $select every default
// property and the membership are tracked, as in the documented example.
func (s *Server) groupsDelta(g *graphRequest) {
	w, r := g.w, g.r
	if !g.p.canReadGroups(false) {
		errDirectoryDenied(w, r)
		return
	}
	first, ok := directoryDeltaFirstCall(g, deltaGroups, "/groups/delta", "group", append(append([]string(nil), groupProps...), "members"))
	if !ok {
		return
	}
	s.mu.Lock()
	t := g.p.tenant
	round, offset, ok := s.deltaStart(g, first, func(p deltaParams, since int) []deltaEntry {
		return groupsChangedSince(t, p.props, since)
	})
	if !ok {
		s.mu.Unlock()
		return
	}
	page, skip, delta := s.deltaPage(t, round, offset, usersDefaultPage)
	minimal := preferReturnMinimal(r)
	var props []string
	withMembers := len(round.params.props) == 0
	for _, p := range round.params.props {
		if p == "members" {
			withMembers = true
			continue
		}
		props = append(props, p)
	}
	if len(props) == 0 && len(round.params.props) > 0 {
		props = []string{"id"}
	}
	value := make([]object, 0, len(page))
	for _, e := range page {
		gr := t.groupByID[strings.ToLower(e.id)]
		if e.removed || gr == nil {
			value = append(value, object{{"id", e.id}, {"@removed", object{{"reason", "deleted"}}}})
			continue
		}
		fresh := round.since < 0 || gr.createdSeq > round.since
		o := groupJSON(gr, props)
		if minimal && !fresh {
			kept := object{{"id", gr.id}}
			for _, p := range o[1:] {
				if gr.propSeq[p.k] > round.since {
					kept = append(kept, p)
				}
			}
			o = kept
		}
		if withMembers {
			if md := membersDelta(gr, fresh, round.since); md != nil {
				o = append(o, kv{"members@delta", md})
			}
		}
		value = append(value, o)
	}
	s.mu.Unlock()
	body := object{{"@odata.context", contextURL(r, "groups"+selectSuffix(round.params.props))}}
	base := "https://" + r.Host + "/v1.0/groups/delta"
	if skip != "" {
		body = append(body, kv{"@odata.nextLink", base + "?$skiptoken=" + skip})
	} else {
		body = append(body, kv{"@odata.deltaLink", base + "?$deltatoken=" + delta})
	}
	body = append(body, kv{"value", value})
	if minimal {
		w.Header().Set("Preference-Applied", "return=minimal")
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}

func memberType(m memberRef) string {
	if m.isGroup {
		return "#microsoft.graph.group"
	}
	return "#microsoft.graph.user"
}

// membersDelta renders members@delta: every member for a group new to the
// round, else the membership changes after since (nil when none).
func membersDelta(gr *group, fresh bool, since int) []object {
	if fresh {
		out := []object{}
		for _, m := range gr.members {
			out = append(out, object{{"@odata.type", memberType(m)}, {"id", m.id}})
		}
		return out
	}
	last := map[string]memberChange{}
	var order []string
	for _, c := range gr.memberLog {
		if c.seq <= since {
			continue
		}
		if _, seen := last[c.ref.id]; !seen {
			order = append(order, c.ref.id)
		}
		last[c.ref.id] = c
	}
	if len(order) == 0 {
		return nil
	}
	out := []object{}
	for _, id := range order {
		c := last[id]
		o := object{{"@odata.type", memberType(c.ref)}, {"id", id}}
		if c.removed {
			o = append(o, kv{"@removed", object{{"reason", "deleted"}}})
		}
		out = append(out, o)
	}
	return out
}

// groupsChangedSince lists the groups a round reports: all with since < 0;
// else groups added, with a tracked property changed (or, when tracked,
// membership changed), then groups removed.
func groupsChangedSince(t *tenant, props []string, since int) []deltaEntry {
	var out []deltaEntry
	trackMembers := len(props) == 0
	for _, p := range props {
		if p == "members" {
			trackMembers = true
		}
	}
	for _, gr := range t.groups {
		changed := since < 0 || gr.createdSeq > since
		for p, seq := range gr.propSeq {
			if seq <= since {
				continue
			}
			if len(props) == 0 {
				changed = true
			}
			for _, sp := range props {
				if sp == p {
					changed = true
				}
			}
		}
		if trackMembers && len(gr.memberLog) > 0 && gr.memberLog[len(gr.memberLog)-1].seq > since {
			changed = true
		}
		if changed {
			out = append(out, deltaEntry{id: gr.id})
		}
	}
	if since < 0 {
		return out
	}
	seen := map[string]bool{}
	for _, tb := range t.groupTombs {
		if tb.seq <= since || tb.addedSeq > since || seen[tb.id] || t.groupByID[strings.ToLower(tb.id)] != nil {
			continue
		}
		seen[tb.id] = true
		out = append(out, deltaEntry{id: tb.id, removed: true})
	}
	return out
}
