package graphsim

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Graph common behaviour: authentication, the permission model, path and
// OData query parsing, request bodies and response envelopes.

// principal is the caller as its access token describes it.
type principal struct {
	tenant    *tenant
	tenantID  string
	clientID  string
	oid       string // service principal (app-only) or user (delegated)
	delegated bool
	perms     map[string]bool // lower-case roles (app-only) or scp entries (delegated)
}

func (p *principal) has(perms ...string) bool {
	for _, x := range perms {
		if p.perms[strings.ToLower(x)] {
			return true
		}
	}
	return false
}

// Permission sets per operation, graph-behavior §8. Application permissions
// travel in roles, delegated ones in scp.
var (
	permMailReadApp       = []string{"Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"}
	permMailReadDelegated = []string{"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"}
	permMailBody          = []string{"Mail.Read", "Mail.ReadWrite"} // ReadBasic never sees bodies (S30)
	permMailSend          = []string{"Mail.Send"}
	permMailWrite         = []string{"Mail.ReadWrite"}
	permUsersApp          = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permUsersDelegated    = []string{"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)

func (p *principal) canReadMail() bool {
	if p.delegated {
		return p.has(permMailReadDelegated...)
	}
	return p.has(permMailReadApp...)
}

func (p *principal) canReadUsers(self bool) bool {
	if p.delegated {
		return p.has(permUsersDelegated...) || (self && p.has("User.Read", "User.ReadWrite"))
	}
	return p.has(permUsersApp...)
}

// ownsMailbox: a delegated caller may touch only its own mailbox (shared
// and delegated mailbox access is not simulated); app-only callers any.
func (p *principal) ownsMailbox(u *user) bool {
	return !p.delegated || strings.EqualFold(p.oid, u.id)
}

const graphAuthorizationURI = "https://login.microsoftonline.com/common/oauth2/authorize"

// authenticate validates the bearer token (S11). Failures are 401
// InvalidAuthenticationToken; a token issued before the app's consent was
// revoked gets a CAE challenge, which makes kiota fetch a new token once.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*principal, bool) {
	fail := func(msg string) (*principal, bool) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="", authorization_uri="%s", client_id="00000003-0000-0000-c000-000000000000"`, graphAuthorizationURI))
		writeGraphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		return nil, false
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return fail("Access token is empty.")
	}
	scheme, tok, _ := strings.Cut(authz, " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return fail("Access token is empty.")
	}
	c, err := s.parseJWT(tok)
	switch {
	case errors.Is(err, errTokenMalformed):
		return fail("IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EndcodedPayload.EncodedSignature'. (JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector.EncodedCiphertext.EncodedAuthenticationTag'.")
	case err != nil:
		return fail("Access token validation failure. Invalid signature.")
	}
	audOK := false
	for _, g := range append(graphResources, s.URL()) {
		if strings.EqualFold(c.Aud, g) || strings.EqualFold(c.Aud, g+"/") {
			audOK = true
		}
	}
	if !audOK {
		return fail("Access token validation failure. Invalid audience.")
	}
	if c.Iss != "https://sts.windows.net/"+c.Tid+"/" {
		return fail("Access token validation failure. Invalid issuer.")
	}
	now := time.Now().Unix()
	if c.Exp <= now {
		return fail("Lifetime validation failed, the token is expired.")
	}
	if c.Nbf > now+300 {
		return fail("Lifetime validation failed, the token is not yet valid.")
	}

	s.mu.Lock()
	t := s.tenants[strings.ToLower(c.Tid)]
	issued, known := s.tokens[c.Uti]
	var (
		a          *app
		revoked    bool
		revokedAt  time.Time
		tenantGone = t == nil
	)
	if t != nil {
		a = t.apps[strings.ToLower(c.AppID)]
		if a != nil {
			revoked = a.consentRevoked || issued.consentGen < a.consentGen
			revokedAt = a.revokedAt
		}
	}
	s.mu.Unlock()
	if tenantGone || a == nil || !known {
		return fail("Access token validation failure.")
	}
	if revoked {
		if hasCP1(c.XmsCC) {
			// Continuous access evaluation: the claims challenge asks for a
			// token newer than the revocation; the token endpoint then
			// answers 65001 while consent stays revoked.
			challenge := fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, revokedAt.Unix())
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="", authorization_uri="%s", error="insufficient_claims", claims="%s"`,
				graphAuthorizationURI, base64.StdEncoding.EncodeToString([]byte(challenge))))
			writeGraphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken",
				"Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp")
			return nil, false
		}
		return fail("Access token validation failure. The token was issued before the application's consent was revoked.")
	}

	p := &principal{tenant: t, tenantID: t.id, clientID: c.AppID, oid: c.Oid, perms: map[string]bool{}}
	if c.IDTyp == "user" || (c.Scp != "" && len(c.Roles) == 0) {
		p.delegated = true
		for _, sc := range strings.Fields(c.Scp) {
			p.perms[strings.ToLower(sc)] = true
		}
	} else {
		for _, ro := range c.Roles {
			p.perms[strings.ToLower(ro)] = true
		}
	}
	infoFrom(r).tenantID = t.id
	return p, true
}

func hasCP1(cc []string) bool {
	for _, v := range cc {
		if strings.EqualFold(v, "CP1") {
			return true
		}
	}
	return false
}

// graphRequest bundles what a Graph handler needs.
type graphRequest struct {
	w    http.ResponseWriter
	r    *http.Request
	p    *principal
	segs []string // path segments after /v1.0 (or /beta), with "me" resolved and OData keys split
	me   bool     // the request came in as /me/...
	beta bool     // the request came in under /beta (graph_beta.go)
	q    odataQuery
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	setGraphHeaders(w, r)
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	s.serveGraphAs(w, r, p)
}

// serveGraphAs handles a Graph request for an authenticated caller. JSON
// batching (graph_batch.go) runs each batch item through it with the
// batch's principal, so items get the same routing, limits and latency.
func (s *Server) serveGraphAs(w http.ResponseWriter, r *http.Request, p *principal) {
	segs := splitGraphPath(r.URL.Path)
	g := &graphRequest{w: w, r: r, p: p, segs: segs, beta: isBetaPath(r.URL.Path)}
	if len(segs) > 0 && strings.EqualFold(segs[0], "me") {
		if !p.delegated {
			errBadRequest(w, r, "BadRequest", "/me request is only valid with delegated authentication flow.")
			return
		}
		g.me = true
		g.segs = append([]string{"users", p.oid}, segs[1:]...)
	}
	q, msg := parseODataQuery(r.URL.RawQuery)
	if msg != "" {
		errBadRequest(w, r, "BadRequest", msg)
		return
	}
	g.q = q
	release, ok := s.admitMailbox(g)
	if !ok {
		return
	}
	defer release()
	lat := s.currentLatency()
	infoFrom(r).perItem = lat.PerItem
	sleepCtx(r, lat.Fixed)
	if g.beta {
		s.routeBeta(g)
		return
	}
	s.routeGraph(g)
}

// Segments of real Graph resources the simulator does not implement yet.
// They answer 501 so a missing feature is obvious rather than looking like
// a typo (real unknown segments give 400).
var (
	notYetUserSegments = map[string]bool{
		"memberof": true, "photo": true, "drive": true, "todo": true, "inferenceclassification": true,
		"messagerules": true, "outlook": true, "extensions": true, "chats": true, "joinedteams": true,
	}
	notYetRootSegments = map[string]bool{
		"subscriptions": true, "organization": true, "applications": true,
		"serviceprincipals": true, "chats": true, "communications": true, "directoryobjects": true,
		"contacts": true, "domains": true, "sites": true, "drives": true, "planner": true, "security": true,
		"auditlogs": true, "reports": true, "identity": true, "policies": true, "invitations": true,
	}
)

func (s *Server) routeGraph(g *graphRequest) {
	segs := g.segs
	if len(segs) == 0 {
		errBadRequest(g.w, g.r, "BadRequest", "Invalid request.")
		return
	}
	root := strings.ToLower(segs[0])
	if root == "$batch" {
		s.serveBatch(g)
		return
	}
	if root == "groups" {
		s.routeGroups(g)
		return
	}
	if root == "teams" {
		s.routeTeams(g)
		return
	}
	if root != "users" {
		if notYetRootSegments[root] {
			errNotSimulated(g.w, g.r, "/"+segs[0])
			return
		}
		errBadRequest(g.w, g.r, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", segs[0]))
		return
	}
	switch len(segs) {
	case 1:
		if g.method(http.MethodGet) {
			s.listUsers(g)
		}
		return
	case 2:
		if isDelta(segs[1]) {
			if g.method(http.MethodGet) {
				s.usersDelta(g)
			}
			return
		}
		if strings.HasPrefix(segs[1], "$") {
			errNotSimulated(g.w, g.r, "/users/"+segs[1])
			return
		}
		if g.method(http.MethodGet) {
			s.getUser(g)
		}
		return
	}
	switch sub := strings.ToLower(segs[2]); {
	case sub == "messages":
		s.routeMessages(g, "", segs[3:]) // graph_mail_write.go
	case sub == "mailfolders":
		s.routeMailFolders(g)
	case sub == "manager" && len(segs) == 3:
		if g.method(http.MethodGet) {
			s.getManager(g)
		}
	case sub == "directreports" && len(segs) == 3:
		if g.method(http.MethodGet) {
			s.listDirectReports(g)
		}
	case sub == "calendarview":
		s.routeCalendarView(g)
	case sub == "mailboxsettings":
		s.getMailboxSettings(g)
	case sub == "contacts" || sub == "contactfolders":
		s.routeContacts(g)
	case sub == "sendmail" && len(segs) == 3:
		if g.method(http.MethodPost) {
			s.sendMail(g)
		}
	case sub == "events" || sub == "calendar" || sub == "calendars":
		s.routeEvents(g)
	case sub == "findmeetingtimes" && len(segs) == 3:
		if g.method(http.MethodPost) {
			s.findMeetingTimes(g)
		}
	case sub == "onlinemeetings":
		s.routeOnlineMeetings(g)
	case notYetUserSegments[sub]:
		errNotSimulated(g.w, g.r, "/users/{id}/"+segs[2])
	default:
		errBadRequest(g.w, g.r, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", segs[2]))
	}
}

// routeGroups routes /groups, /groups/delta, /groups/{id} and
// /groups/{id}/members.
func (s *Server) routeGroups(g *graphRequest) {
	segs := g.segs
	switch {
	case len(segs) == 1:
		if g.method(http.MethodGet) {
			s.listGroups(g)
		}
	case len(segs) == 2 && isDelta(segs[1]):
		if g.method(http.MethodGet) {
			s.groupsDelta(g)
		}
	case len(segs) == 2 && !strings.HasPrefix(segs[1], "$"):
		if g.method(http.MethodGet) {
			s.getGroup(g, segs[1])
		}
	case len(segs) == 3 && strings.EqualFold(segs[2], "members"):
		if g.method(http.MethodGet) {
			s.listGroupMembers(g, segs[1])
		}
	default:
		errNotSimulated(g.w, g.r, graphRoute(segs))
	}
}

// routeMailFolders routes /users/{id}/mailFolders[/delta | /{id}(/childFolders/{id})*[/childFolders | /messages[/delta | /{id}]]].
func (s *Server) routeMailFolders(g *graphRequest) {
	segs := g.segs[3:]
	if len(segs) == 0 {
		if g.r.Method == http.MethodPost {
			s.createMailFolder(g, nil)
		} else if g.method(http.MethodGet) {
			s.listMailFolders(g, nil)
		}
		return
	}
	if isDelta(segs[0]) {
		if len(segs) == 1 && g.method(http.MethodGet) {
			s.mailFoldersDelta(g)
		} else if len(segs) > 1 {
			errNotSimulated(g.w, g.r, "/users/{id}/mailFolders/delta/"+strings.Join(segs[1:], "/"))
		}
		return
	}
	path := []string{segs[0]}
	rest := segs[1:]
	for len(rest) >= 2 && strings.EqualFold(rest[0], "childFolders") && !isDelta(rest[1]) {
		path = append(path, rest[1])
		rest = rest[2:]
	}
	folderKey := path[len(path)-1]
	switch {
	case len(rest) == 0:
		if g.method(http.MethodGet) {
			s.getMailFolder(g, path)
		}
	case len(rest) == 1 && strings.EqualFold(rest[0], "childFolders"):
		if g.r.Method == http.MethodPost {
			s.createMailFolder(g, path)
		} else if g.method(http.MethodGet) {
			s.listMailFolders(g, path)
		}
	case len(path) > 1 && !s.folderPathValid(g, path):
		// errors written
	case len(rest) == 2 && strings.EqualFold(rest[0], "messages") && isDelta(rest[1]):
		if g.method(http.MethodGet) {
			s.messagesDelta(g, folderKey)
		}
	case strings.EqualFold(rest[0], "messages"):
		s.routeMessages(g, folderKey, rest[1:]) // graph_mail_write.go
	default:
		errNotSimulated(g.w, g.r, "/users/{id}/mailFolders/{id}/"+strings.Join(rest, "/"))
	}
}

// folderPathValid checks a nested childFolders path before a handler
// resolves its last folder by id alone.
func (s *Server) folderPathValid(g *graphRequest, path []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.mailboxFor(g)
	if !ok {
		return false
	}
	_, ok = folderPath(g, u, path)
	return ok
}

// messageItem routes GET and PATCH on one message.
func (s *Server) messageItem(g *graphRequest, folderKey, id string) {
	if g.r.Method == http.MethodPatch {
		s.updateMessage(g, folderKey, id)
		return
	}
	if g.method(http.MethodGet) {
		s.getMessage(g, folderKey, id)
	}
}

// isDelta: "delta", "delta()" (what the SDK sends) and the fully qualified
// "microsoft.graph.delta" name the same function (S14).
func isDelta(seg string) bool {
	s := strings.TrimPrefix(strings.ToLower(seg), "microsoft.graph.")
	return s == "delta" || s == "delta()"
}

// method checks the HTTP method. Real Graph serves more methods on most
// routes (POST to create, PATCH, DELETE) than the simulator does, so a
// method the simulator lacks answers 501 NotImplemented, as the README
// promises, rather than a 405 that real Graph would not send.
func (g *graphRequest) method(m string) bool {
	if g.r.Method == m {
		return true
	}
	errNotSimulated(g.w, g.r, g.r.Method+" "+graphRoute(g.segs))
	return false
}

// graphRoute renders segments as a route template for messages, with ids
// replaced by placeholders.
func graphRoute(segs []string) string {
	var b strings.Builder
	for i, s := range segs {
		b.WriteString("/")
		if i%2 == 1 && !isDelta(s) && !strings.HasPrefix(s, "$") && !isRouteWord(s) {
			b.WriteString("{id}")
			continue
		}
		b.WriteString(s)
	}
	return b.String()
}

func isRouteWord(s string) bool {
	switch strings.ToLower(s) {
	case "messages", "mailfolders", "childfolders", "calendarview", "contacts", "contactfolders",
		"mailboxsettings", "manager", "directreports", "members", "events", "move", "sendmail",
		"copy", "send", "reply", "replyall", "forward", "createreply", "createreplyall", "createforward":
		return true
	}
	return false
}

// userKey is the user segment as the caller wrote it (the token's oid for
// /me); errors and @odata.context echo it the way Graph does.
func (g *graphRequest) userKey() string { return g.segs[1] }

// splitGraphPath returns the segments after /v1.0 (or /beta), splitting
// OData key syntax such as users('id') or mailFolders('inbox') into two
// segments.
func splitGraphPath(p string) []string {
	if isBetaPath(p) {
		p = strings.TrimPrefix(p, "/beta")
	} else {
		p = strings.TrimPrefix(p, "/v1.0")
	}
	var out []string
	for _, seg := range strings.Split(p, "/") {
		if seg == "" {
			continue
		}
		if i := strings.Index(seg, "('"); i > 0 && strings.HasSuffix(seg, "')") {
			out = append(out, seg[:i], seg[i+2:len(seg)-2])
			continue
		}
		out = append(out, seg)
	}
	return out
}

// odataQuery holds the system query options. Names are matched
// case-insensitively; "%24select" arrives decoded as "$select" (S14).
type odataQuery struct {
	selects   []string
	hasSelect bool
	top       int
	hasTop    bool
	skip      int
	hasSkip   bool
	skipToken string
	// hasSkipToken and hasDeltaToken tell "given but empty" apart.
	hasSkipToken  bool
	deltaToken    string
	hasDeltaToken bool
	filter        string
	orderBy       string
	search        string
	expand        string
	expandItems   []expandItem
	count         string
	custom        map[string]string // non-$ parameters, lower-case names
}

func parseODataQuery(raw string) (odataQuery, string) {
	q := odataQuery{custom: map[string]string{}}
	pairs, ok := parseRawQuery(raw)
	if !ok {
		return q, "The query specified in the URI is not valid."
	}
	seen := map[string]bool{}
	for _, kvp := range pairs {
		k, v := kvp[0], kvp[1]
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "$") {
			q.custom[lk] = v
			continue
		}
		if seen[lk] {
			return q, fmt.Sprintf("Query option '%s' was specified more than once, but it must be specified at most once.", k)
		}
		seen[lk] = true
		switch lk {
		case "$select":
			q.hasSelect = true
			q.selects = splitSelect(v)
		case "$top":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return q, fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", v)
			}
			q.top, q.hasTop = n, true
		case "$skip":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return q, fmt.Sprintf("Invalid value '%s' for $skip query option found. The $skip query option requires a non-negative integer value.", v)
			}
			q.skip, q.hasSkip = n, true
		case "$skiptoken":
			q.skipToken, q.hasSkipToken = v, true
		case "$filter":
			q.filter = v
		case "$orderby":
			q.orderBy = v
		case "$search":
			q.search = v
		case "$expand":
			items, err := parseExpand(v)
			if err != nil {
				return q, "Invalid $expand: " + err.Error()
			}
			q.expand, q.expandItems = v, items
		case "$count":
			q.count = v
		case "$levels":
			return q, "Query option '$levels' is only valid inside $expand."
		case "$deltatoken":
			q.deltaToken, q.hasDeltaToken = v, true
		case "$format":
		default:
			return q, fmt.Sprintf("The query parameter '%s' is not supported.", k)
		}
	}
	return q, ""
}

// selectSuffix renders "(a,b)" for @odata.context when $select was given.
func selectSuffix(props []string) string {
	if len(props) == 0 {
		return ""
	}
	return "(" + strings.Join(props, ",") + ")"
}

// contextURL is the @odata.context for a resource path, on the request's
// own host and API version.
func contextURL(r *http.Request, fragment string) string {
	if isBetaPath(r.URL.Path) {
		return "https://" + r.Host + "/beta/$metadata#" + fragment
	}
	return "https://" + r.Host + "/v1.0/$metadata#" + fragment
}

// nextLinkURL builds an absolute @odata.nextLink on the host and port the
// request came in on, under its version (/v1.0, S15, or /beta), keeping the original query options
// (in their original order and encoding) except those in set, which are
// replaced and appended.
func nextLinkURL(r *http.Request, set [][2]string) string {
	replace := map[string]bool{}
	for _, kvp := range set {
		replace[strings.ToLower(kvp[0])] = true
	}
	var parts []string
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, _, _ := strings.Cut(pair, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			dk = k
		}
		if replace[strings.ToLower(dk)] {
			continue
		}
		parts = append(parts, pair)
	}
	for _, kvp := range set {
		parts = append(parts, kvp[0]+"="+url.QueryEscape(kvp[1]))
	}
	u := "https://" + r.Host + r.URL.EscapedPath()
	if len(parts) > 0 {
		u += "?" + strings.Join(parts, "&")
	}
	return u
}

// respondEmpty answers a Graph write that returns no body: 202 (with
// Content-Length 0) for send, reply, forward, sendMail and the event
// actions, 204 for deletes.
func respondEmpty(w http.ResponseWriter, r *http.Request, status int) {
	setGraphHeaders(w, r)
	if status != http.StatusNoContent {
		w.Header().Set("Content-Length", "0")
	}
	w.WriteHeader(status)
}

// writeGraphJSON writes a successful Graph response body.
func writeGraphJSON(w http.ResponseWriter, r *http.Request, status int, body any) {
	perItemDelay(r, body)
	setGraphHeaders(w, r)
	h := w.Header()
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	writeJSON(w, status, contentTypeOData, body)
}

// maxRequestBody bounds request bodies (Graph allows about 4 MB of JSON per
// request; attachments push sendMail higher).
const maxRequestBody = 36 << 20

// readBody returns the request body, decompressing Content-Encoding: gzip
// (S12): kiota's compression handler gzips every request body by default.
// Other encodings get 415, on which kiota re-sends uncompressed.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var rd io.Reader = http.MaxBytesReader(w, r.Body, maxRequestBody)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			errBadRequest(w, r, "BadRequest", "The request body is not valid gzip.")
			return nil, false
		}
		defer zr.Close()
		rd = io.LimitReader(zr, maxRequestBody+1)
	default:
		writeGraphError(w, r, http.StatusUnsupportedMediaType, "UnsupportedMediaType",
			fmt.Sprintf("Content-Encoding '%s' is not supported.", enc))
		return nil, false
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		errBadRequest(w, r, "BadRequest", "The request body could not be read.")
		return nil, false
	}
	if len(b) > maxRequestBody {
		writeGraphError(w, r, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body is too large.")
		return nil, false
	}
	return b, true
}

// decodeJSONObject parses a JSON object body. Property lookups on the
// result go through ciGet, which matches names case-insensitively (S13):
// the SDK sends "Message" and "SaveToSentItems" in PascalCase.
func decodeJSONObject(w http.ResponseWriter, r *http.Request, b []byte) (map[string]any, bool) {
	if len(bytes.TrimSpace(b)) == 0 {
		errBadRequest(w, r, "BadRequest", "Empty Payload. JSON content expected.")
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		errBadRequest(w, r, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return nil, false
	}
	return m, true
}

// setIfGiven copies *v into *dst when v is set: the optional fields of a
// PATCH-like input (event create and update, the contact control call)
// change only what the caller gave.
func setIfGiven[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func ciGet(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func ciString(m map[string]any, key string) string {
	v, _ := ciGet(m, key)
	s, _ := v.(string)
	return s
}

func ciObject(m map[string]any, key string) map[string]any {
	v, _ := ciGet(m, key)
	o, _ := v.(map[string]any)
	return o
}

func ciArray(m map[string]any, key string) []any {
	v, _ := ciGet(m, key)
	a, _ := v.([]any)
	return a
}

// ciBool reads a boolean that may arrive as a JSON string: Microsoft's own
// sendMail example sends "saveToSentItems": "false".
func ciBool(m map[string]any, key string, def bool) (bool, error) {
	v, ok := ciGet(m, key)
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			return def, fmt.Errorf("invalid boolean %q for %s", x, key)
		}
		return b, nil
	}
	return def, fmt.Errorf("invalid value for %s", key)
}
