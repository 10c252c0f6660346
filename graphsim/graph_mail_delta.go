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
		ct, _ := q.param("changeType")
		ct = strings.ToLower(strings.TrimSpace(ct))
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
	m := u.msgByID[id]
	if m == nil || (f != nil && m.folder != f) {
		return nil
	}
	return m
}

// updateMessage is PATCH /users/{id}/messages/{id} (optionally under a
// folder), needing Mail.ReadWrite (S27; api/message-update.md). It applies
// the writable properties: categories, flag, importance,
// inferenceClassification and isRead on any message; bccRecipients, body,
// ccRecipients, from, internetMessageId, isDeliveryReceiptRequested,
// isReadReceiptRequested, replyTo, sender, subject and toRecipients only on
// drafts ("Updatable only if isDraft = true"; otherwise 400
// ErrorInvalidPropertyUpdateSentMessage [unv: exact code]). A property the
// message type does not have gives 400 RequestBodyRead, as OData's
// request validation does; a read-only one gives 400 ErrorInvalidPropertySet
// [unv]. It answers 200 with the updated message, and the change shows up
// in the folder's next delta round.
func (s *Server) updateMessage(g *graphRequest, folderKey, id string) {
	w, r := g.w, g.r
	if !g.p.has(permMailWrite...) {
		errMailDenied(w, r)
		return
	}
	in, ok := readJSONBody(g, true)
	if !ok {
		return
	}
	changes, draftOnly, ok := parseMessagePatch(w, r, in)
	if !ok {
		return
	}
	bodyType, preferText := preferredBodyType(r)
	_, m, ok := s.lockMessage(g, folderKey, id)
	if !ok {
		return
	}
	if draftOnly != "" && !m.isDraft {
		s.mu.Unlock()
		errBadRequest(w, r, "ErrorInvalidPropertyUpdateSentMessage",
			fmt.Sprintf("Update is not allowed for property '%s' of a message that is not a draft.", draftOnly))
		return
	}
	if len(changes) > 0 {
		for _, c := range changes {
			c(m)
		}
		m.changeVersion++
		m.modifiedAt = timeNow()
		m.changedSeq = g.p.tenant.nextChange()
		touchFolder(m.folder, m.changedSeq)
	}
	entity := messageJSON(m, nil, g.p.has(permMailBody...), bodyType)
	s.mu.Unlock()
	writeMessageEntity(g, http.StatusOK, nil, entity, preferText)
}
