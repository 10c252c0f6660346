package graphsim

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Delta query state shared by users delta and per-folder message delta
// (graph-behavior §3 "Per-folder delta", §5 "Users delta").
//
// State tokens are opaque random strings naming server-side state, the way
// Graph keeps sync state in a cache: a $deltatoken holds the round's query
// options and the tenant change sequence it was issued at; a $skiptoken
// holds a position in a round whose change list was fixed when the round
// began. Query options given on a round's first call therefore stay in
// force for every later link (S20). Unknown tokens, tokens of another
// tenant, resource or reseeded tenant, skiptokens of a completed round and
// tokens dropped by ExpireDeltaTokens or by eviction answer
// SyncStateNotFound (S22). Everything here is guarded by Server.mu.

// maxSyncStates bounds the token table; the oldest tokens fall out first,
// as they fall out of Exchange's sync-state cache.
const maxSyncStates = 50000

type deltaKind int

const (
	deltaUsers deltaKind = iota + 1
	deltaMessages
	deltaFolders
	deltaEvents
	deltaGroups
	deltaContacts
)

// deltaParams are the options given on a round's first call.
type deltaParams struct {
	kind       deltaKind
	userID     string   // messages: mailbox owner
	folderID   string   // messages: the tracked folder
	props      []string // canonical $select properties; empty = defaults
	changeType string   // messages: "", "created", "updated" or "deleted"
	// events: the calendarView window, fixed by the round's first call.
	start, end time.Time
}

func (p deltaParams) sameResource(o deltaParams) bool {
	return p.kind == o.kind && p.userID == o.userID && p.folderID == o.folderID
}

// deltaEntry is one item of a round: a current item or a removal.
type deltaEntry struct {
	id      string
	removed bool
}

// deltaRound is one round of delta calls: the change list fixed at its
// first call, paged through by skiptokens.
type deltaRound struct {
	params   deltaParams
	entries  []deltaEntry
	since    int  // the baseline the round reports changes after; -1 for an initial round
	startSeq int  // tenant changeSeq when the round began: the next deltaLink's baseline
	done     bool // the deltaLink was issued; the round's skiptokens are stale
}

type syncState struct {
	tenant *tenant // a reseeded tenant is a different pointer: its old tokens are unknown
	delta  bool    // $deltatoken (true) or $skiptoken
	// $deltatoken
	params deltaParams
	since  int
	// $skiptoken
	round  *deltaRound
	offset int
}

// newStateToken returns a fresh opaque token value (URL-safe, no escaping
// needed in links).
func newStateToken() string {
	var b [33]byte
	if _, err := rand.Read(b[:]); err != nil {
		return base64.RawURLEncoding.EncodeToString([]byte(randomGUID() + randomGUID())[:33])
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// putSyncState stores st and returns its token. Callers hold s.mu.
func (s *Server) putSyncState(st *syncState) string {
	tok := newStateToken()
	s.syncStates[tok] = st
	s.syncOrder = append(s.syncOrder, tok)
	limit := s.maxSyncStates
	if limit <= 0 {
		limit = maxSyncStates
	}
	for len(s.syncOrder) > limit {
		delete(s.syncStates, s.syncOrder[0])
		s.syncOrder = s.syncOrder[1:]
	}
	return tok
}

// lookupSyncState finds a token of tenant t. Callers hold s.mu.
func (s *Server) lookupSyncState(t *tenant, tok string) *syncState {
	st := s.syncStates[tok]
	if st == nil || st.tenant != t {
		return nil
	}
	return st
}

// dropSyncStates forgets every token of the tenant with this ID. Callers
// hold s.mu.
func (s *Server) dropSyncStates(tenantID string) {
	kept := s.syncOrder[:0:0]
	for _, tok := range s.syncOrder {
		if st := s.syncStates[tok]; st != nil && strings.EqualFold(st.tenant.id, tenantID) {
			delete(s.syncStates, tok)
			continue
		}
		kept = append(kept, tok)
	}
	s.syncOrder = kept
}

// errSyncStateNotFound answers a state token the simulator does not know,
// with the code and message shape observed from Exchange (graph-behavior §3,
// microsoftgraph/microsoft-graph-docs#2350): 410 Gone unless configured
// otherwise (Options.SyncStateNotFoundStatus, SetSyncStateNotFoundStatus).
// Callers hold s.mu.
func (s *Server) errSyncStateNotFound(w http.ResponseWriter, r *http.Request, highest int) {
	writeGraphError(w, r, s.syncStatus, "SyncStateNotFound",
		fmt.Sprintf("The sync state generation is not found; generation=0;[highest=%d]", highest))
}

// deltaStart resolves the round a delta request continues or begins.
// initial builds the change list for a new round from a baseline (-1: an
// initial sync listing current items only). It returns the round and the
// offset to serve from; latest is set for $deltatoken=latest, which serves
// nothing and issues a deltaLink at the current sequence. Callers hold s.mu;
// on false the error has been written.
func (s *Server) deltaStart(g *graphRequest, first deltaParams, build func(p deltaParams, since int) []deltaEntry) (round *deltaRound, offset int, ok bool) {
	t := g.p.tenant
	q := g.q
	switch {
	case q.hasSkipToken && q.hasDeltaToken:
		errBadRequest(g.w, g.r, "BadRequest", "Only one of $skiptoken and $deltatoken can be specified.")
		return nil, 0, false
	case q.hasSkipToken:
		st := s.lookupSyncState(t, q.skipToken)
		if st == nil || st.delta || st.round.done || !st.round.params.sameResource(first) {
			s.errSyncStateNotFound(g.w, g.r, t.changeSeq)
			return nil, 0, false
		}
		return st.round, st.offset, true
	case q.hasDeltaToken && strings.EqualFold(q.deltaToken, "latest"):
		return &deltaRound{params: first, since: t.changeSeq, startSeq: t.changeSeq}, 0, true
	case q.hasDeltaToken:
		st := s.lookupSyncState(t, q.deltaToken)
		if st == nil || !st.delta || !st.params.sameResource(first) {
			s.errSyncStateNotFound(g.w, g.r, t.changeSeq)
			return nil, 0, false
		}
		return &deltaRound{params: st.params, entries: build(st.params, st.since), since: st.since, startSeq: t.changeSeq}, 0, true
	}
	return &deltaRound{params: first, entries: build(first, -1), since: -1, startSeq: t.changeSeq}, 0, true
}

// deltaPage takes up to size entries from offset and returns them with the
// token for the next link: a skiptoken while entries remain, else a
// deltatoken (the round is then complete). Callers hold s.mu.
func (s *Server) deltaPage(t *tenant, round *deltaRound, offset, size int) (page []deltaEntry, skipToken, deltaToken string) {
	end := min(offset+size, len(round.entries))
	page = round.entries[min(offset, end):end]
	if end < len(round.entries) {
		return page, s.putSyncState(&syncState{tenant: t, round: round, offset: end}), ""
	}
	round.done = true
	return page, "", s.putSyncState(&syncState{tenant: t, delta: true, params: round.params, since: round.startSeq})
}
