package graphsim

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Mail folders (api/user-list-mailfolders.md, api/mailfolder-get.md,
// api/mailfolder-list-childfolders.md, api/mailfolder-delta.md):
//
//	GET /users/{id}/mailFolders                      top-level folders (children of msgfolderroot)
//	GET /users/{id}/mailFolders/{id|well-known}      one folder
//	GET /users/{id}/mailFolders/{id}/childFolders    a folder's children
//	GET /users/{id}/mailFolders/delta                every folder of the mailbox, with @removed
//
// Hidden folders are listed only with includeHiddenFolders=true. Pages hold
// 10 folders by default ("If a collection exceeds the default page size (10
// items), the @odata.nextLink property is returned"), $top 1-1000, $skip
// nextLinks. $select (id always returned), $orderby on one property,
// $filter "<property> <op> <literal>" and $expand=childFolders are
// evaluated; any other form answers 501, never silently wrong data.

// mailFolderProps are the v1.0 mailFolder properties in Graph's order.
// (sizeInBytes and wellKnownName are beta-only and not in the v1.0 SDK model.)
var mailFolderProps = []string{
	"id", "displayName", "parentFolderId", "childFolderCount", "unreadItemCount", "totalItemCount", "isHidden",
}

const (
	foldersDefaultPage = 10
	foldersMaxPage     = 1000
)

// folderStats are a folder's derived counts.
type folderStats struct{ total, unread, children int }

func (u *user) folderStats() map[*folder]*folderStats {
	st := make(map[*folder]*folderStats, len(u.folders))
	byID := make(map[string]*folderStats, len(u.folders))
	for _, f := range u.folders {
		fs := &folderStats{}
		st[f], byID[f.id] = fs, fs
	}
	for _, f := range u.folders {
		if p := byID[f.parentID]; p != nil {
			p.children++
		}
	}
	for _, m := range u.messages {
		if fs := st[m.folder]; fs != nil {
			fs.total++
			if !m.isRead {
				fs.unread++
			}
		}
	}
	return st
}

func folderValue(f *folder, st *folderStats, prop string) any {
	switch prop {
	case "id":
		return f.id
	case "displayName":
		return f.display
	case "parentFolderId":
		return f.parentID
	case "childFolderCount":
		return st.children
	case "unreadItemCount":
		return st.unread
	case "totalItemCount":
		return st.total
	case "isHidden":
		return f.hidden
	}
	return nil
}

// folderJSON renders a folder; props empty means every property. id is
// always returned.
func folderJSON(f *folder, st *folderStats, props []string) object {
	if len(props) == 0 {
		props = mailFolderProps
	}
	o := object{{"id", f.id}}
	for _, p := range props {
		if p != "id" {
			o = append(o, kv{p, folderValue(f, st, p)})
		}
	}
	return o
}

// folderQuery is a validated set of folder query options.
type folderQuery struct {
	props         []string
	top, skip     int
	filter        *simpleFilter
	order         *orderBy
	expandChild   bool
	childProps    []string
	includeHidden bool
}

// parseFolderQuery validates the options a folder list or get accepts;
// on false the error has been written.
func parseFolderQuery(g *graphRequest, collection bool) (folderQuery, bool) {
	w, r, q := g.w, g.r, g.q
	fq := folderQuery{top: foldersDefaultPage, skip: q.skip}
	if q.search != "" || q.count != "" {
		errNotSimulated(w, r, "$search and $count on mailFolders")
		return fq, false
	}
	props, bad := canonicalProps(q.selects, mailFolderProps)
	if bad != "" {
		errBadRequest(w, r, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.mailFolder'.", bad))
		return fq, false
	}
	fq.props = props
	if v, ok := q.param("includeHiddenFolders"); ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			errBadRequest(w, r, "ErrorInvalidParameter", fmt.Sprintf("The value '%s' of parameter 'includeHiddenFolders' is invalid.", v))
			return fq, false
		}
		fq.includeHidden = b
	}
	for _, it := range q.expandItems {
		if !strings.EqualFold(it.name, "childFolders") {
			errNotSimulated(w, r, fmt.Sprintf("$expand=%s on mailFolders", it.name))
			return fq, false
		}
		for k, v := range it.options {
			if k != "$select" {
				errNotSimulated(w, r, fmt.Sprintf("%s inside $expand=childFolders", k))
				return fq, false
			}
			cp, bad := canonicalProps(splitSelect(v), mailFolderProps)
			if bad != "" {
				errBadRequest(w, r, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.mailFolder'.", bad))
				return fq, false
			}
			fq.childProps = cp
		}
		fq.expandChild = true
	}
	if !collection {
		if q.filter != "" || q.orderBy != "" || q.hasTop || q.hasSkip {
			errBadRequest(w, r, "BadRequest", "Query options $filter, $orderby, $top and $skip are not allowed on a single mailFolder.")
			return fq, false
		}
		return fq, true
	}
	if q.hasTop {
		if q.top < 1 || q.top > foldersMaxPage {
			errBadRequest(w, r, "ErrorInvalidParameter",
				fmt.Sprintf("The value '%d' of parameter 'Top' is invalid. It must be between 1 and 1000.", q.top))
			return fq, false
		}
		fq.top = q.top
	}
	if q.filter != "" {
		f, ok := parseSimpleFilter(q.filter)
		if !ok {
			errNotSimulated(w, r, fmt.Sprintf("$filter '%s' on mailFolders (only '<property> <op> <literal>')", q.filter))
			return fq, false
		}
		canon, bad := canonicalProps([]string{f.prop}, mailFolderProps)
		if bad != "" {
			errBadRequest(w, r, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.mailFolder'.", bad))
			return fq, false
		}
		f.prop = canon[0]
		fq.filter = &f
	}
	if q.orderBy != "" {
		ob, ok := parseOrderBy(q.orderBy)
		if !ok {
			errNotSimulated(w, r, fmt.Sprintf("$orderby '%s' on mailFolders (only one property)", q.orderBy))
			return fq, false
		}
		canon, bad := canonicalProps([]string{ob.prop}, mailFolderProps)
		if bad != "" {
			errBadRequest(w, r, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.mailFolder'.", bad))
			return fq, false
		}
		ob.prop = canon[0]
		fq.order = &ob
	}
	return fq, true
}

// sortFolders orders folders by display name (the order Graph's examples
// list them in), then id.
func sortFolders(fs []*folder) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := strings.ToLower(fs[i].display), strings.ToLower(fs[j].display)
		if a != b {
			return a < b
		}
		return fs[i].id < fs[j].id
	})
}

// childrenOf lists the folders whose parent is parentID, sorted.
func (u *user) childrenOf(parentID string, includeHidden bool) []*folder {
	var out []*folder
	for _, f := range u.folders {
		if f.parentID == parentID && (includeHidden || !f.hidden) {
			out = append(out, f)
		}
	}
	sortFolders(out)
	return out
}

// listMailFolders is GET /users/{id}/mailFolders (parentKey "") and
// GET .../mailFolders/{id}/childFolders.
func (s *Server) listMailFolders(g *graphRequest, parentPath []string) {
	w, r := g.w, g.r
	if !g.p.canReadMail() {
		errMailDenied(w, r)
		return
	}
	fq, ok := parseFolderQuery(g, true)
	if !ok {
		return
	}
	u, _, ok := s.lockMailbox(g, "")
	if !ok {
		return
	}
	parentID := u.rootID
	if len(parentPath) > 0 {
		p, ok := folderPath(g, u, parentPath)
		if !ok {
			s.mu.Unlock()
			return
		}
		parentID = p.id
	}
	stats := u.folderStats()
	all := u.childrenOf(parentID, fq.includeHidden)
	if fq.filter != nil {
		kept := all[:0:0]
		for _, f := range all {
			if fq.filter.match(folderValue(f, stats[f], fq.filter.prop)) {
				kept = append(kept, f)
			}
		}
		all = kept
	}
	if fq.order != nil {
		ob := *fq.order
		sort.SliceStable(all, func(i, j int) bool {
			a, b := folderValue(all[i], stats[all[i]], ob.prop), folderValue(all[j], stats[all[j]], ob.prop)
			less := lessValue(a, b)
			if ob.desc {
				less = lessValue(b, a)
			}
			return less
		})
	}
	start := min(fq.skip, len(all))
	end := min(start+fq.top, len(all))
	value := make([]object, 0, end-start)
	for _, f := range all[start:end] {
		value = append(value, s.folderWithExpand(u, f, stats, fq))
	}
	more := end < len(all)
	s.mu.Unlock()

	ctx := fmt.Sprintf("users('%s')/mailFolders", g.userKey())
	if len(parentPath) > 0 {
		ctx += fmt.Sprintf("('%s')/childFolders", parentPath[len(parentPath)-1])
	}
	body := object{{"@odata.context", contextURL(r, ctx+selectSuffix(fq.props))}}
	body = append(body, kv{"value", value})
	if more {
		body = append(body, kv{"@odata.nextLink", nextLinkURL(r, [][2]string{{"$skip", strconv.Itoa(end)}})})
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}

func (s *Server) folderWithExpand(u *user, f *folder, stats map[*folder]*folderStats, fq folderQuery) object {
	o := folderJSON(f, stats[f], fq.props)
	if fq.expandChild {
		kids := []object{}
		for _, c := range u.childrenOf(f.id, fq.includeHidden) {
			kids = append(kids, folderJSON(c, stats[c], fq.childProps))
		}
		o = append(o, kv{"childFolders", kids})
	}
	return o
}

func lessValue(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, _ := b.(string)
		return strings.ToLower(x) < strings.ToLower(y)
	case int:
		y, _ := b.(int)
		return x < y
	case bool:
		y, _ := b.(bool)
		return !x && y
	}
	return false
}

// folderPath resolves mailFolders/{a}/childFolders/{b}/... given as the
// keys [a, b, ...]: a is an id or well-known name, each later key an id
// of a child of the previous folder. Callers hold s.mu.
func folderPath(g *graphRequest, u *user, keys []string) (*folder, bool) {
	f, ok := folderFor(g, u, keys[0])
	if !ok {
		return nil, false
	}
	for _, k := range keys[1:] {
		c := u.folderByID(k)
		if c == nil || c.parentID != f.id {
			errItemNotFoundOrMalformed(g, k)
			return nil, false
		}
		f = c
	}
	return f, true
}

// getMailFolder is GET /users/{id}/mailFolders/{id | well-known name}
// (and .../childFolders/{id}).
func (s *Server) getMailFolder(g *graphRequest, path []string) {
	w, r := g.w, g.r
	if !g.p.canReadMail() {
		errMailDenied(w, r)
		return
	}
	fq, ok := parseFolderQuery(g, false)
	if !ok {
		return
	}
	fq.includeHidden = true // a folder addressed directly is returned even when hidden
	u, _, ok := s.lockMailbox(g, "")
	if !ok {
		return
	}
	f, ok := folderPath(g, u, path)
	if !ok {
		s.mu.Unlock()
		return
	}
	entity := s.folderWithExpand(u, f, u.folderStats(), fq)
	s.mu.Unlock()
	body := append(object{{"@odata.context", contextURL(r, fmt.Sprintf("users('%s')/mailFolders%s/$entity", g.userKey(), selectSuffix(fq.props)))}}, entity...)
	writeGraphJSON(w, r, http.StatusOK, body)
}

// mailFoldersDelta is GET /users/{id}/mailFolders/delta (and delta()):
// every folder of the mailbox, nested ones included, in pages of
// Prefer: odata.maxpagesize (default 10) with $skiptoken nextLinks, then a
// $deltatoken deltaLink. On a deltaLink, folders created, renamed, moved or
// whose item counts changed come back in full; deleted folders as
// {"@odata.type":"#microsoft.graph.mailFolder","id","@removed":{"reason":"deleted"}}.
// $select is honoured (id always returned) and rides in the tokens; other
// query options are not supported by Graph for this function and answer
// 501. Hidden folders are not listed [unv: whether Exchange lists them].
func (s *Server) mailFoldersDelta(g *graphRequest) {
	w, r, q := g.w, g.r, g.q
	if !g.p.canReadMail() {
		errMailDenied(w, r)
		return
	}
	first := deltaParams{kind: deltaFolders}
	if !q.hasSkipToken && !(q.hasDeltaToken && !strings.EqualFold(q.deltaToken, "latest")) {
		if q.filter != "" || q.expand != "" || q.hasTop || q.hasSkip || q.count != "" || q.orderBy != "" || q.search != "" {
			errNotSimulated(w, r, "$filter, $expand, $top, $skip, $orderby, $search and $count on mailFolders/delta")
			return
		}
		props, bad := canonicalProps(q.selects, mailFolderProps)
		if bad != "" {
			errBadRequest(w, r, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.mailFolder'.", bad))
			return
		}
		first.props = props
	}
	pageSize, sizeApplied := preferredMaxPageSize(r)
	u, _, ok := s.lockMailbox(g, "")
	if !ok {
		return
	}
	first.userID = u.id
	round, offset, ok := s.deltaStart(g, first, func(p deltaParams, since int) []deltaEntry {
		return foldersChangedSince(u, since)
	})
	if !ok {
		s.mu.Unlock()
		return
	}
	page, skip, delta := s.deltaPage(g.p.tenant, round, offset, pageSize)
	stats := u.folderStats()
	value := make([]object, 0, len(page))
	for _, e := range page {
		var f *folder
		if !e.removed {
			f = u.folderByID(e.id)
		}
		if f == nil {
			value = append(value, object{{"@odata.type", "#microsoft.graph.mailFolder"}, {"id", e.id}, {"@removed", object{{"reason", "deleted"}}}})
			continue
		}
		value = append(value, append(object{{"@odata.type", "#microsoft.graph.mailFolder"}}, folderJSON(f, stats[f], round.params.props)...))
	}
	s.mu.Unlock()

	base := "https://" + r.Host + "/v1.0/"
	if g.me {
		base += "me"
	} else {
		base += "users/" + url.PathEscape(g.userKey())
	}
	base += "/mailFolders/delta"
	body := object{{"@odata.context", contextURL(r, "Collection(mailFolder)")}}
	if skip != "" {
		body = append(body, kv{"@odata.nextLink", base + "?$skiptoken=" + skip})
	} else {
		body = append(body, kv{"@odata.deltaLink", base + "?$deltatoken=" + delta})
	}
	body = append(body, kv{"value", value})
	if sizeApplied {
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}

// foldersChangedSince lists the folders a mailFolders/delta round reports:
// with since < 0 every visible folder, parents before children; otherwise
// folders created or changed after since, then folders deleted after since
// that existed at since.
func foldersChangedSince(u *user, since int) []deltaEntry {
	var out []deltaEntry
	var walk func(parentID string)
	walk = func(parentID string) {
		for _, f := range u.childrenOf(parentID, false) {
			if since < 0 || f.createdSeq > since || f.changedSeq > since {
				out = append(out, deltaEntry{id: f.id})
			}
			walk(f.id)
		}
	}
	walk(u.rootID)
	if since < 0 {
		return out
	}
	seen := map[string]bool{}
	for _, tb := range u.folderTombstones {
		if tb.seq <= since || tb.addedSeq > since || seen[tb.id] || u.folderByID(tb.id) != nil {
			continue
		}
		seen[tb.id] = true
		out = append(out, deltaEntry{id: tb.id, removed: true})
	}
	return out
}
