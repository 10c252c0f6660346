package graphsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Per-folder message delta: GET /users/{id}/mailFolders/{id}/messages/delta
// and .../delta() (S19-S22; api/message-delta.md,
// concepts/delta-query-messages.md).
//
// Prefer: odata.maxpagesize=N pages (default 10) with $skiptoken nextLinks
// until the last page carries a $deltatoken deltaLink. $select and
// changeType=created|updated|deleted given on the first call stay in force
// for every later link. Items carry @odata.type, @odata.etag and id; a
// message deleted or moved out of the folder after a deltaLink comes back as
// {"@odata.type","id","@removed":{"reason":"deleted"}}. Mail.ReadBasic
// callers never get bodies (S30).

const (
	messagesDeltaDefaultPage = messagesDefaultPage
	messagesDeltaMaxPage     = messagesMaxPage
)

func (s *Server) messagesDelta(g *graphRequest, folderKey string) {
	w, r, q := g.w, g.r, g.q
	if !g.p.canReadMail() {
		errMailDenied(w, r)
		return
	}
	first := deltaParams{kind: deltaMessages}
	if !q.hasSkipToken && !(q.hasDeltaToken && !strings.EqualFold(q.deltaToken, "latest")) {
		// Query options count on a round's first call only; links carry them.
		switch {
		case q.search != "":
			// [unv] exact code and message; the docs say $search is unsupported.
			errBadRequest(w, r, "ErrorInvalidUrlQuery", "The query parameter '$search' is not supported with delta.")
			return
		case q.filter != "", q.expand != "", q.hasTop, q.hasSkip, q.count != "":
			errNotSimulated(w, r, "$filter, $expand, $top, $skip and $count on message delta")
			return
		case q.orderBy != "" && !isReceivedDesc(q.orderBy):
			errBadRequest(w, r, "ErrorInvalidUrlQuery", "The only supported $orderby for delta is 'receivedDateTime desc'.")
			return
		}
		props, ok := selectMessageProps(g)
		if !ok {
			return
		}
		first.props = props
		ct := ""
		for k, vs := range r.URL.Query() {
			if strings.EqualFold(k, "changeType") && len(vs) > 0 {
				ct = strings.ToLower(strings.TrimSpace(vs[0]))
			}
		}
		switch ct {
		case "", "created", "updated", "deleted":
			first.changeType = ct
		default:
			// [unv] exact code and message.
			errBadRequest(w, r, "ErrorInvalidParameter", fmt.Sprintf("The value '%s' of parameter 'changeType' is invalid. Supported values are created, updated and deleted.", ct))
			return
		}
	}
	pageSize, sizeApplied := preferredMaxPageSize(r)
	bodyType, preferText := preferredBodyType(r)

	u, f, ok := s.lockMailbox(g, folderKey)
	if !ok {
		return
	}
	first.userID, first.folderID = u.id, f.id
	round, offset, ok := s.deltaStart(g, first, func(p deltaParams, since int) []deltaEntry {
		return messagesChangedSince(u, f, p.changeType, since)
	})
	if !ok {
		s.mu.Unlock()
		return
	}
	page, skip, delta := s.deltaPage(g.p.tenant, round, offset, pageSize)
	withBody := g.p.has(permMailBody...)
	value := make([]object, 0, len(page))
	for _, e := range page {
		var m *message
		if !e.removed {
			m = u.messageIn(f, e.id)
		}
		if m == nil {
			value = append(value, object{{"@odata.type", "#microsoft.graph.message"}, {"id", e.id}, {"@removed", object{{"reason", "deleted"}}}})
			continue
		}
		value = append(value, append(object{{"@odata.type", "#microsoft.graph.message"}}, messageJSON(m, round.params.props, withBody, bodyType)...))
	}
	s.mu.Unlock()

	base := "https://" + r.Host + "/v1.0/"
	if g.me {
		base += "me"
	} else {
		base += "users/" + url.PathEscape(g.userKey())
	}
	base += "/mailFolders('" + url.PathEscape(folderKey) + "')/messages/delta"
	body := object{{"@odata.context", contextURL(r, "Collection(message)")}}
	if skip != "" {
		body = append(body, kv{"@odata.nextLink", base + "?$skiptoken=" + skip})
	} else {
		body = append(body, kv{"@odata.deltaLink", base + "?$deltatoken=" + delta})
	}
	body = append(body, kv{"value", value})
	var applied []string
	if sizeApplied {
		applied = append(applied, "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	if preferText {
		applied = append(applied, `outlook.body-content-type="text"`)
	}
	if len(applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(applied, ", "))
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}

// preferredMaxPageSize reads Prefer: odata.maxpagesize=N (clamped to
// 1..1000); without it a delta page holds 10 messages.
func preferredMaxPageSize(r *http.Request) (int, bool) {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			if !strings.EqualFold(strings.TrimSpace(k), "odata.maxpagesize") {
				continue
			}
			n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`))
			if err != nil || n < 1 {
				continue
			}
			return min(n, messagesDeltaMaxPage), true
		}
	}
	return messagesDeltaDefaultPage, false
}

// messagesChangedSince lists the messages a round reports for folder f:
// with since < 0 every current message (newest first); otherwise messages
// that entered the folder after since (created), messages changed in place
// after since (updated), and messages that left the folder after since
// having been in it at since (deleted), filtered by changeType.
func messagesChangedSince(u *user, f *folder, changeType string, since int) []deltaEntry {
	var out []deltaEntry
	for _, m := range u.sortedMessages(f) {
		switch {
		case since < 0:
		case m.folderSeq > since:
			if changeType != "" && changeType != "created" {
				continue
			}
		case m.changedSeq > since:
			if changeType != "" && changeType != "updated" {
				continue
			}
		default:
			continue
		}
		out = append(out, deltaEntry{id: m.id})
	}
	if since < 0 || (changeType != "" && changeType != "deleted") {
		return out
	}
	seen := map[string]bool{}
	for _, tb := range u.msgTombstones {
		if tb.folderID != f.id || tb.seq <= since || tb.addedSeq > since || seen[tb.id] || u.messageIn(f, tb.id) != nil {
			continue
		}
		seen[tb.id] = true
		out = append(out, deltaEntry{id: tb.id, removed: true})
	}
	return out
}

// messageIn finds a message by id, in folder f when f is not nil.
func (u *user) messageIn(f *folder, id string) *message {
	for _, m := range u.messages {
		if m.id == id && (f == nil || m.folder == f) {
			return m
		}
	}
	return nil
}

// updateMessage is PATCH /users/{id}/messages/{id} (optionally under a
// folder) with isRead, importance, categories or flag.flagStatus (S27):
// 200 with the updated message; the change shows up in the folder's next
// delta round. Needs Mail.ReadWrite. Other properties are ignored.
func (s *Server) updateMessage(g *graphRequest, folderKey, id string) {
	w, r := g.w, g.r
	if !g.p.has(permMailWrite...) {
		errMailDenied(w, r)
		return
	}
	raw, ok := readBody(w, r)
	if !ok {
		return
	}
	in, ok := decodeJSONObject(w, r, raw)
	if !ok {
		return
	}
	type change func(m *message)
	var changes []change
	if _, has := ciGet(in, "isRead"); has {
		v, err := ciBool(in, "isRead", false)
		if err != nil {
			errBadRequest(w, r, "ErrorInvalidRequest", "Invalid value for property 'isRead'.")
			return
		}
		changes = append(changes, func(m *message) { m.isRead = v })
	}
	if v, has := ciGet(in, "importance"); has {
		imp, _ := v.(string)
		imp = strings.ToLower(imp)
		if imp != "low" && imp != "normal" && imp != "high" {
			errBadRequest(w, r, "ErrorInvalidRequest", "Invalid value for property 'importance'.")
			return
		}
		changes = append(changes, func(m *message) { m.importance = imp })
	}
	if _, has := ciGet(in, "categories"); has {
		var cats []string
		for _, c := range ciArray(in, "categories") {
			if cs, ok := c.(string); ok {
				cats = append(cats, cs)
			}
		}
		changes = append(changes, func(m *message) { m.categories = cats })
	}
	if fl := ciObject(in, "flag"); fl != nil {
		if st := ciString(fl, "flagStatus"); st != "" {
			changes = append(changes, func(m *message) { m.flagStatus = st })
		}
	}
	bodyType, preferText := preferredBodyType(r)
	u, f, ok := s.lockMailbox(g, folderKey)
	if !ok {
		return
	}
	m := u.messageIn(f, id)
	if m == nil {
		s.mu.Unlock()
		errItemNotFoundOrMalformed(g, id)
		return
	}
	if len(changes) > 0 {
		for _, c := range changes {
			c(m)
		}
		m.changeVersion++
		m.modifiedAt = timeNow()
		m.changedSeq = g.p.tenant.nextChange()
	}
	entity := messageJSON(m, nil, g.p.has(permMailBody...), bodyType)
	s.mu.Unlock()
	body := append(object{{"@odata.context", contextURL(r, fmt.Sprintf("users('%s')/messages/$entity", g.userKey()))}}, entity...)
	if preferText {
		w.Header().Set("Preference-Applied", `outlook.body-content-type="text"`)
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}
