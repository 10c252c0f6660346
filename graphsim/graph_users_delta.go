package graphsim

import (
	"fmt"
	"net/http"
	"strings"
)

// Users delta: GET /users/delta and /users/delta() (S14, S41;
// api/user-delta.md, concepts/delta-query-users.md).
//
// The initial round lists the current users, 100 a page, linked by
// $skiptoken nextLinks; the last page carries a $deltatoken deltaLink.
// $deltatoken=latest returns an empty value and a deltaLink. On a deltaLink,
// users added or changed since it was issued come back with their
// (selected) properties, removed users as {"id","@removed":{"reason":"deleted"}}.
// $select also limits which changes are tracked: a change to a property
// outside it does not list the user. $select=manager tracks the manager
// relationship, reported as "manager@delta":[{"@odata.type","id"}] (an
// emptied manager as that entry with "@removed"). With Prefer:
// return=minimal on a deltaLink round, users that existed before it carry
// only id and the properties changed since (api/user-delta.md), and the
// response says Preference-Applied: return=minimal.

const usersDeltaPage = usersDefaultPage

func (s *Server) usersDelta(g *graphRequest) {
	w, r := g.w, g.r
	if !g.p.canReadUsers(false) {
		errDirectoryDenied(w, r)
		return
	}
	first, ok := directoryDeltaFirstCall(g, deltaUsers, "/users/delta", "user", append(append([]string(nil), userSelectableProps...), "manager"))
	if !ok {
		return
	}

	s.mu.Lock()
	t := g.p.tenant
	round, offset, ok := s.deltaStart(g, first, func(p deltaParams, since int) []deltaEntry {
		return usersChangedSince(t, p.props, since)
	})
	if !ok {
		s.mu.Unlock()
		return
	}
	page, skip, delta := s.deltaPage(t, round, offset, usersDeltaPage)
	minimal := preferReturnMinimal(r)
	var props []string
	withManager := false
	for _, p := range round.params.props {
		if p == "manager" {
			withManager = true
			continue
		}
		props = append(props, p)
	}
	if len(props) == 0 && withManager {
		props = []string{"id"}
	}
	value := make([]object, 0, len(page))
	for _, e := range page {
		u := t.lookupUser(e.id)
		if e.removed || u == nil {
			value = append(value, object{{"id", e.id}, {"@removed", object{{"reason", "deleted"}}}})
			continue
		}
		fresh := round.since < 0 || u.createdSeq > round.since
		o := userJSON(t, u, props)
		if minimal && !fresh {
			kept := object{}
			for _, p := range o {
				if u.propSeq[p.k] > round.since {
					kept = append(kept, p)
				}
			}
			o = kept
		}
		if _, has := o.get("id"); !has {
			o = append(o, kv{"id", u.id}) // delta always returns id, last as in the docs
		}
		if withManager && (fresh || u.propSeq["manager"] > round.since) {
			switch {
			case u.managerID != "":
				o = append(o, kv{"manager@delta", []object{{{"@odata.type", "#microsoft.graph.user"}, {"id", u.managerID}}}})
			case u.prevManagerID != "":
				o = append(o, kv{"manager@delta", []object{{{"@odata.type", "#microsoft.graph.user"}, {"id", u.prevManagerID}, {"@removed", object{{"reason", "deleted"}}}}}})
			}
		}
		value = append(value, o)
	}
	s.mu.Unlock()

	body := object{{"@odata.context", contextURL(r, "users"+selectSuffix(round.params.props))}}
	base := "https://" + r.Host + "/v1.0/users/delta"
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

// usersChangedSince lists the users a round reports: with since < 0 every
// current user; otherwise users added after since, users with a tracked
// property changed after since (props empty: any property), and users
// removed after since that existed at since. Sorted by id, removals last.
func usersChangedSince(t *tenant, props []string, since int) []deltaEntry {
	var out []deltaEntry
	for _, u := range t.users {
		if since < 0 || u.createdSeq > since || u.changedSince(props, since) {
			out = append(out, deltaEntry{id: u.id})
		}
	}
	if since < 0 {
		return out
	}
	seen := map[string]bool{}
	for _, tb := range t.userTombstones {
		if tb.seq <= since || tb.addedSeq > since || seen[tb.id] || t.lookupUser(tb.id) != nil {
			continue
		}
		seen[tb.id] = true
		out = append(out, deltaEntry{id: tb.id, removed: true})
	}
	return out
}

// changedSince reports whether one of props (any property when empty)
// changed after since.
func (u *user) changedSince(props []string, since int) bool {
	if len(props) == 0 {
		for p, seq := range u.propSeq {
			if seq > since && p != "manager" {
				return true
			}
		}
		return false
	}
	for _, p := range props {
		if u.propSeq[p] > since {
			return true
		}
	}
	return false
}

// preferReturnMinimal reads Prefer: return=minimal.
func preferReturnMinimal(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "return") && strings.EqualFold(strings.TrimSpace(val), "minimal") {
				return true
			}
		}
	}
	return false
}

// directoryDeltaFirstCall reads the query options of a directory delta
// (users, groups). They count on a round's first call only (the links carry
// them); entity names the type in the error for an unknown $select property.
// It answers the request itself and returns false when the options are not
// acceptable.
func directoryDeltaFirstCall(g *graphRequest, kind deltaKind, path, entity string, selectable []string) (deltaParams, bool) {
	w, r, q := g.w, g.r, g.q
	first := deltaParams{kind: kind}
	if q.hasSkipToken || (q.hasDeltaToken && !strings.EqualFold(q.deltaToken, "latest")) {
		return first, true
	}
	switch {
	case q.filter != "":
		errNotSimulated(w, r, "$filter on "+path)
		return first, false
	case q.hasTop, q.hasSkip, q.orderBy != "", q.expand != "", q.search != "", q.count != "":
		// [unv] exact code and message; the directory documents only
		// $select and $filter (by id) for its deltas.
		errBadRequest(w, r, "Request_UnsupportedQuery", "Unsupported query.")
		return first, false
	}
	props, bad := canonicalProps(q.selects, selectable)
	if bad != "" {
		errBadRequest(w, r, "Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.%s'.", bad, entity))
		return first, false
	}
	first.props = props
	return first, true
}
