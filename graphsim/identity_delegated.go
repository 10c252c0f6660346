package graphsim

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Delegated flows of the identity platform (graph-behavior §1.3, S6-S8):
// the authorization endpoint with PKCE, the device authorization endpoint,
// and the authorization_code, refresh_token and device_code grants. Who
// signs in, and whether they consent, is decided by the test harness
// through the control API (control_signin.go). The simulator remembers per
// (app, user) which delegated Graph scopes were consented to; a delegated
// access token carries all of them in scp, as Entra's do.

const (
	authCodeLifetime   = 10 * time.Minute
	deviceCodeLifetime = 15 * time.Minute
	deviceCodeInterval = 1 // seconds; Entra says 5, tests want speed
	refreshInactivity  = 90 * 24 * time.Hour
	idTokenLifetime    = time.Hour
	// grantDeviceCode is the device code grant as RFC 8628 and Entra's doc
	// name it; MSAL Go v1.10.1 sends the short "device_code", which Entra
	// accepts too.
	grantDeviceCode    = "urn:ietf:params:oauth:grant-type:device_code"
	maxSignInArtefacts = 10000 // per table (codes, refresh tokens, device codes)
	maxPendingSignIns  = 100
)

// knownDelegatedScopes are the Graph delegated permissions an app may ask
// for (graph-behavior §8 plus the common neighbours). Names match
// case-insensitively and are canonicalised to these spellings.
var knownDelegatedScopes = []string{
	"User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All",
	"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite", "Mail.Send",
	"Mail.Read.Shared", "Mail.ReadWrite.Shared", "Mail.Send.Shared",
	"Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite", "Calendars.Read.Shared", "Calendars.ReadWrite.Shared",
	"Contacts.Read", "Contacts.ReadWrite", "MailboxSettings.Read", "MailboxSettings.ReadWrite",
	"OnlineMeetings.Read", "OnlineMeetings.ReadWrite", "GroupMember.Read.All", "Group.Read.All",
	"Directory.Read.All", "ChannelMessage.Send", "ChannelMessage.Read.All", "Group.ReadWrite.All", "People.Read", "Presence.Read", "Tasks.ReadWrite", "Files.Read",
}

// defaultDelegatedScope is what "/.default" (or no Graph scope at all)
// consents to when the user has consented to nothing yet: every new app
// registration lists User.Read.
const defaultDelegatedScope = "User.Read"

// appDelegation is an app registration's delegated-flow settings and the
// users' consent grants. Guarded by Server.mu.
type appDelegation struct {
	redirectURIs []string
	publicClient bool                // "Allow public client flows"
	consents     map[string][]string // lower-case user id -> consented Graph scopes, sorted
}

func newAppDelegation(redirectURIs []string, publicClient bool) appDelegation {
	return appDelegation{redirectURIs: append([]string(nil), redirectURIs...), publicClient: publicClient}
}

// consented returns the Graph scopes the user consented to for the app.
func (d *appDelegation) consented(userID string) []string {
	return d.consents[strings.ToLower(userID)]
}

// grant adds scopes to the user's consent.
func (d *appDelegation) grant(userID string, scopes []string) {
	if d.consents == nil {
		d.consents = map[string][]string{}
	}
	key := strings.ToLower(userID)
	set := map[string]bool{}
	for _, s := range append(append([]string(nil), d.consents[key]...), scopes...) {
		set[s] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	d.consents[key] = out
}

// signInState holds the artefacts of delegated flows in progress or
// issued. Guarded by Server.mu; the zero value is ready to use.
type signInState struct {
	codes     map[string]*authCode     // by code
	refresh   map[string]*refreshGrant // by refresh token
	devices   map[string]*deviceGrant  // by device_code
	userCodes map[string]*deviceGrant  // by user code
	decisions []*signInDecision        // oldest first; each is used once
	pending   []*PendingSignIn         // authorization requests waiting for a decision
	seq       int
}

// signInRequest is what an authorization (or device) request asked for.
type signInRequest struct {
	scope       delegatedScope
	redirectURI string
	challenge   string // S256 PKCE challenge; "" = none
	nonce       string
}

type authCode struct {
	tenantID, clientID, userID string
	req                        signInRequest
	expires                    time.Time
	redeemed                   bool
}

type refreshGrant struct {
	tenantID, clientID, userID string
	issued, lastUsed           time.Time
	revoked                    bool // RevokeUserRefreshTokens: AADSTS50173
	expired                    bool // ExpireUserRefreshTokens: AADSTS700082
}

type deviceGrant struct {
	deviceCode, userCode string
	tenantID             string // "" when requested on organizations/common
	clientID             string
	req                  signInRequest
	expires              time.Time
	state                string // pending | approved | declined | redeemed
	userTenantID, userID string // set on approval
}

// signInDecision is the harness's answer to an authorization request by
// (app, user): approve (consent to what is asked) or decline.
type signInDecision struct {
	tenantID, clientID, userID string
	approve                    bool
}

// PendingSignIn is an authorization request that got the consent page
// because no decision was waiting for it.
type PendingSignIn struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenantId,omitempty"` // "" when the user is not known yet (organizations without login_hint)
	ClientID    string    `json:"clientId"`
	LoginHint   string    `json:"loginHint,omitempty"`
	UserID      string    `json:"userId,omitempty"`
	Scopes      []string  `json:"scopes"`
	RedirectURI string    `json:"redirectUri"`
	Requested   time.Time `json:"requested"`
}

// idpErr is an identity-platform error answer (S5 body shape).
type idpErr struct {
	status int
	code   string
	aadsts int
	text   string
	extra  []kv
}

func (e *idpErr) write(w http.ResponseWriter, r *http.Request) {
	writeIdentityError(w, r, e.status, e.code, e.aadsts, e.text, e.extra...)
}

func invalidGrant(aadsts int, text string, extra ...kv) *idpErr {
	return &idpErr{http.StatusBadRequest, "invalid_grant", aadsts, text, extra}
}

func consentRequired(a *app) *idpErr {
	return invalidGrant(65001, fmt.Sprintf("The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", a.clientID, a.displayName),
		kv{"suberror", "consent_required"})
}

// isMultiTenantSegment: the authority segments that stand for "the
// signed-in user's tenant". consumers (Microsoft accounts) is not
// simulated.
func isMultiTenantSegment(seg string) bool {
	return strings.EqualFold(seg, "organizations") || strings.EqualFold(seg, "common")
}

// serveDelegatedIdentity handles the identity requests of the delegated
// flows and reports whether it answered; serveIdentity calls it first.
func (s *Server) serveDelegatedIdentity(w http.ResponseWriter, r *http.Request, tenantSeg string, t *tenant, rest string) bool {
	multi := t == nil && isMultiTenantSegment(tenantSeg)
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		if !multi {
			return false
		}
		// Entra serves the same document for organizations and common,
		// with a {tenantid} issuer; MSAL only compares its host.
		s.serveOpenIDConfiguration(w, r, &tenant{id: strings.ToLower(tenantSeg)})
	case "oauth2/v2.0/authorize":
		if t == nil && !multi {
			identityErrorPage(w, r, http.StatusBadRequest, 90002, tenantNotFound(tenantSeg))
			return true
		}
		s.serveAuthorize(w, r, t)
	case "oauth2/v2.0/devicecode":
		if t == nil && !multi {
			writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(tenantSeg))
			return true
		}
		s.serveDeviceCode(w, r, t)
	case "oauth2/deviceauth":
		s.serveDeviceLoginPage(w, r)
	case "oauth2/v2.0/token":
		if r.Method != http.MethodPost {
			return false
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if r.ParseForm() != nil {
			return false // serveToken answers the malformed body
		}
		switch grant := r.PostForm.Get("grant_type"); grant {
		case "authorization_code", "refresh_token", grantDeviceCode, "device_code":
			if t == nil && !multi {
				writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(tenantSeg))
				return true
			}
			s.serveDelegatedToken(w, r, grant, t)
		default:
			return false
		}
	default:
		return false
	}
	return true
}

// delegatedScope is a parsed scope parameter of a delegated request.
type delegatedScope struct {
	graph                           []string          // canonical Graph scope names asked for
	forms                           map[string]string // canonical name -> the form it was asked in
	dflt                            bool              // "{graph}/.default"
	openid, profile, email, offline bool
}

// parseDelegatedScope accepts Graph scopes bare ("Mail.Read") or
// qualified ("https://graph.microsoft.com/Mail.Read"), "/.default", and the
// OIDC scopes. It returns an AADSTS code and message on error.
func parseDelegatedScope(scope, selfURL string) (delegatedScope, string, int) {
	sc := delegatedScope{forms: map[string]string{}}
	if strings.TrimSpace(scope) == "" {
		return sc, "The request body must contain the following parameter: 'scope'.", 900144
	}
	for _, raw := range strings.Fields(scope) {
		switch strings.ToLower(raw) {
		case "openid":
			sc.openid = true
			continue
		case "profile":
			sc.profile = true
			continue
		case "email":
			sc.email = true
			continue
		case "offline_access":
			sc.offline = true
			continue
		}
		name := raw
		if i := strings.LastIndex(raw, "/"); i >= 0 {
			res := strings.TrimSuffix(raw[:i], "/")
			known := false
			for _, g := range append(graphResources, selfURL) {
				if strings.EqualFold(res, g) {
					known = true
				}
			}
			if !known {
				return sc, fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope '%s' names a resource other than Microsoft Graph, which the Graph simulator does not host.", raw), 70011
			}
			name = raw[i+1:]
		}
		if name == ".default" {
			sc.dflt = true
			continue
		}
		canon := ""
		for _, k := range knownDelegatedScopes {
			if strings.EqualFold(k, name) {
				canon = k
			}
		}
		if canon == "" {
			return sc, fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope '%s' does not exist on the resource '00000003-0000-0000-c000-000000000000'.", raw), 70011
		}
		if _, dup := sc.forms[canon]; !dup {
			sc.graph = append(sc.graph, canon)
			sc.forms[canon] = raw
		}
	}
	if sc.dflt && len(sc.graph) > 0 {
		return sc, "The provided value for the input parameter 'scope' is not valid. '.default' cannot be combined with other Graph scopes.", 70011
	}
	return sc, "", 0
}

// toConsent lists the scopes the user must still consent to for this
// request, given what they consented to before.
func (sc delegatedScope) toConsent(consented []string) []string {
	if sc.dflt || len(sc.graph) == 0 {
		if len(consented) == 0 {
			return []string{defaultDelegatedScope}
		}
		return nil
	}
	var out []string
	for _, g := range sc.graph {
		if !containsString(consented, g) {
			out = append(out, g)
		}
	}
	return out
}

// display lists the scopes for pages and the pending-request listing.
func (sc delegatedScope) display() []string {
	out := append([]string(nil), sc.graph...)
	if sc.dflt {
		out = append(out, ".default")
	}
	for _, o := range []struct {
		on   bool
		name string
	}{{sc.openid, "openid"}, {sc.profile, "profile"}, {sc.email, "email"}, {sc.offline, "offline_access"}} {
		if o.on {
			out = append(out, o.name)
		}
	}
	return out
}

// responseScope is the token response's scope: every consented Graph scope
// (echoed in the form it was asked in, so MSAL's cache matches it) and the
// OIDC scopes asked for, except offline_access.
func (sc delegatedScope) responseScope(consented []string) string {
	var out []string
	for _, c := range consented {
		if f, ok := sc.forms[c]; ok {
			out = append(out, f)
		} else {
			out = append(out, c)
		}
	}
	for _, o := range []struct {
		on   bool
		name string
	}{{sc.openid, "openid"}, {sc.profile, "profile"}, {sc.email, "email"}} {
		if o.on {
			out = append(out, o.name)
		}
	}
	return strings.Join(out, " ")
}

// lookupUserAnyTenant finds a user (ID or UPN) in the tenants where the app
// is registered, for the organizations and common authorities. Callers
// hold s.mu.
func (s *Server) lookupUserAnyTenant(key, clientID string) (*tenant, *user) {
	for _, t := range s.sortedTenants() {
		if t.apps[strings.ToLower(clientID)] == nil {
			continue
		}
		if u := t.lookupUser(key); u != nil {
			return t, u
		}
	}
	return nil, nil
}

// sortedTenants lists each tenant once, by ID. Callers hold s.mu.
func (s *Server) sortedTenants() []*tenant {
	seen := map[*tenant]bool{}
	var out []*tenant
	for _, t := range s.tenants {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// firstTenantWithApp is the tenant a multi-tenant request is checked
// against before the user is known. Callers hold s.mu.
func (s *Server) firstTenantWithApp(clientID string) *tenant {
	for _, t := range s.sortedTenants() {
		if t.apps[strings.ToLower(clientID)] != nil {
			return t
		}
	}
	return nil
}

// redirectAllowed matches a redirect URI against the registered ones:
// exactly, or for http loopback URIs with any port (RFC 8252 §7.3, as
// Entra does for http://localhost and http://127.0.0.1).
func redirectAllowed(registered []string, uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || u.Fragment != "" {
		return false
	}
	for _, reg := range registered {
		if reg == uri {
			return true
		}
		ru, err := url.Parse(reg)
		if err != nil || ru.Scheme != "http" || u.Scheme != "http" {
			continue
		}
		h := strings.ToLower(u.Hostname())
		if (h == "localhost" || h == "127.0.0.1" || h == "[::1]" || h == "::1") && strings.EqualFold(h, ru.Hostname()) &&
			strings.TrimSuffix(u.Path, "/") == strings.TrimSuffix(ru.Path, "/") && u.RawQuery == ru.RawQuery {
			return true
		}
	}
	return false
}

// authorizeOutcome is what serveAuthorize decided under the lock.
type authorizeOutcome struct {
	page     *idpErr // an error page: no redirect
	redirErr *idpErr // an error sent to the redirect URI
	pending  *PendingSignIn
	code     string
}

// serveAuthorize is GET /{tenant}/oauth2/v2.0/authorize: the user's browser
// arrives here. Without a harness decision for (app, user) it shows a
// consent page (200); with one it redirects to redirect_uri with a code or
// with access_denied. A user who already consented to every scope asked
// for gets a code without a decision, as with single sign-on, unless
// prompt asks for interaction.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request, t *tenant) {
	if r.Method != http.MethodGet {
		identityErrorPage(w, r, http.StatusMethodNotAllowed, 900561, "The authorization endpoint accepts GET requests only in the Graph simulator.")
		return
	}
	q := r.URL.Query()
	clientID, redirectURI, state := q.Get("client_id"), q.Get("redirect_uri"), q.Get("state")
	if clientID == "" {
		identityErrorPage(w, r, http.StatusBadRequest, 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	out := s.decideAuthorize(r, t, q)
	switch {
	case out.page != nil:
		identityErrorPage(w, r, out.page.status, out.page.aadsts, out.page.text)
	case out.redirErr != nil:
		traceID, corrID := randomGUID(), randomGUID()
		desc := fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			out.redirErr.aadsts, out.redirErr.text, traceID, corrID, time.Now().UTC().Format("2006-01-02 15:04:05Z"))
		v := url.Values{"error": {out.redirErr.code}, "error_description": {desc}, "error_uri": {fmt.Sprintf("https://%s/error?code=%d", r.Host, out.redirErr.aadsts)}}
		if state != "" {
			v.Set("state", state)
		}
		respondTo(w, r, redirectURI, q.Get("response_mode"), v, traceID, corrID)
	case out.pending != nil:
		consentPage(w, r, out.pending)
	default:
		v := url.Values{"code": {out.code}}
		if state != "" {
			v.Set("state", state)
		}
		v.Set("session_state", randomGUID())
		id := randomGUID()
		respondTo(w, r, redirectURI, q.Get("response_mode"), v, id, id)
	}
}

// decideAuthorize validates the request and applies the decision, in
// Entra's order: tenant and client, redirect URI (error page), then the
// rest (errors sent to the redirect URI).
func (s *Server) decideAuthorize(r *http.Request, t *tenant, q url.Values) authorizeOutcome {
	clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
	hint := q.Get("login_hint")
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()

	var hinted *user
	switch {
	case t != nil && hint != "":
		hinted = t.lookupUser(hint)
	case t == nil && hint != "":
		t, hinted = s.lookupUserAnyTenant(hint, clientID)
	}
	if t == nil {
		// organizations/common without a known user: a waiting decision
		// names the tenant, else the first tenant with the app.
		for _, d := range s.signin.decisions {
			if strings.EqualFold(d.clientID, clientID) {
				t = s.tenants[strings.ToLower(d.tenantID)]
				break
			}
		}
		if t == nil {
			t = s.firstTenantWithApp(clientID)
		}
	}
	var a *app
	if t != nil {
		a = t.apps[strings.ToLower(clientID)]
	}
	if a == nil {
		dir := "the tenant"
		if t != nil {
			dir = t.displayName
		}
		return authorizeOutcome{page: &idpErr{status: http.StatusBadRequest, aadsts: 700016, text: fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, dir)}}
	}
	if redirectURI == "" && len(a.deleg.redirectURIs) > 0 {
		redirectURI = a.deleg.redirectURIs[0]
	}
	if !redirectAllowed(a.deleg.redirectURIs, redirectURI) {
		return authorizeOutcome{page: &idpErr{status: http.StatusBadRequest, aadsts: 50011, text: fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.", redirectURI, a.clientID)}}
	}
	bad := func(code string, aadsts int, text string) authorizeOutcome {
		return authorizeOutcome{redirErr: &idpErr{status: http.StatusFound, code: code, aadsts: aadsts, text: text}}
	}
	if rt := q.Get("response_type"); rt != "code" {
		if rt == "" {
			return bad("invalid_request", 900144, "The request body must contain the following parameter: 'response_type'.")
		}
		return bad("unsupported_response_type", 700054, fmt.Sprintf("response_type '%s' is not enabled for the application. (The Graph simulator issues authorization codes only.)", rt))
	}
	switch rm := q.Get("response_mode"); rm {
	case "", "query", "fragment", "form_post":
	default:
		return bad("invalid_request", 900561, fmt.Sprintf("Invalid response_mode '%s': use query, fragment or form_post.", rm))
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" {
		if method != "S256" {
			return bad("invalid_request", 50148, fmt.Sprintf("The code_challenge_method '%s' is not supported: the Graph simulator requires S256.", method))
		}
		if len(challenge) != 43 {
			return bad("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
		}
	}
	sc, msg, code := parseDelegatedScope(q.Get("scope"), s.URL())
	if code != 0 {
		return bad("invalid_scope", code, msg)
	}
	prompt := q.Get("prompt")
	switch prompt {
	case "", "none", "login", "consent", "select_account":
	default:
		return bad("invalid_request", 90023, fmt.Sprintf("Invalid prompt parameter value '%s'.", prompt))
	}
	if a.consentRevoked {
		return bad("consent_required", 65001, consentRequired(a).text)
	}
	if hint != "" && hinted == nil {
		return bad("invalid_request", 50034, fmt.Sprintf("The user account %s does not exist in the %s directory. To sign into this application, the account must be added to the directory.", hint, t.displayName))
	}
	req := signInRequest{scope: sc, redirectURI: redirectURI, challenge: challenge, nonce: q.Get("nonce")}

	// A waiting harness decision for (app, hinted user or anyone) wins.
	for i, d := range s.signin.decisions {
		if !strings.EqualFold(d.clientID, a.clientID) || !strings.EqualFold(d.tenantID, t.id) ||
			(hinted != nil && !strings.EqualFold(d.userID, hinted.id)) {
			continue
		}
		s.signin.decisions = append(s.signin.decisions[:i], s.signin.decisions[i+1:]...)
		s.dropPending(t.id, a.clientID, d.userID)
		if !d.approve {
			return bad("access_denied", 65004, "User declined to consent to access the app.")
		}
		a.deleg.grant(d.userID, sc.toConsent(a.deleg.consented(d.userID)))
		return authorizeOutcome{code: s.newAuthCode(t.id, a.clientID, d.userID, req, now)}
	}
	// Single sign-on: the hinted user already consented to all of it.
	if hinted != nil && (prompt == "" || prompt == "none") && len(sc.toConsent(a.deleg.consented(hinted.id))) == 0 {
		return authorizeOutcome{code: s.newAuthCode(t.id, a.clientID, hinted.id, req, now)}
	}
	if prompt == "none" {
		if hinted == nil {
			return bad("login_required", 50058, "A silent sign-in request was sent but no user is signed in.")
		}
		return bad("consent_required", 65001, consentRequired(a).text)
	}
	p := &PendingSignIn{TenantID: t.id, ClientID: a.clientID, LoginHint: hint, Scopes: sc.display(), RedirectURI: redirectURI, Requested: now}
	if hinted != nil {
		p.UserID = hinted.id
	}
	return authorizeOutcome{pending: s.addPending(p)}
}

// addPending records a pending request, replacing an earlier one for the
// same (tenant, app, hint). Callers hold s.mu.
func (s *Server) addPending(p *PendingSignIn) *PendingSignIn {
	st := &s.signin
	for i, old := range st.pending {
		if old.TenantID == p.TenantID && strings.EqualFold(old.ClientID, p.ClientID) && strings.EqualFold(old.LoginHint, p.LoginHint) {
			p.ID = old.ID
			st.pending[i] = p
			return p
		}
	}
	st.seq++
	p.ID = fmt.Sprintf("signin-%d", st.seq)
	if len(st.pending) >= maxPendingSignIns {
		st.pending = st.pending[1:]
	}
	st.pending = append(st.pending, p)
	return p
}

// dropPending forgets the pending requests a decision answered. Callers
// hold s.mu.
func (s *Server) dropPending(tenantID, clientID, userID string) {
	out := s.signin.pending[:0]
	for _, p := range s.signin.pending {
		if p.TenantID == tenantID && strings.EqualFold(p.ClientID, clientID) && (p.UserID == "" || strings.EqualFold(p.UserID, userID)) {
			continue
		}
		out = append(out, p)
	}
	s.signin.pending = out
}

// newAuthCode issues a single-use authorization code. Callers hold s.mu.
func (s *Server) newAuthCode(tenantID, clientID, userID string, req signInRequest, now time.Time) string {
	st := &s.signin
	if st.codes == nil {
		st.codes = map[string]*authCode{}
	}
	if len(st.codes) >= maxSignInArtefacts {
		for k, c := range st.codes {
			if now.After(c.expires.Add(authCodeLifetime)) || c.redeemed {
				delete(st.codes, k)
			}
		}
	}
	code := "1.A" + randomToken(48)
	st.codes[code] = &authCode{tenantID: tenantID, clientID: clientID, userID: userID, req: req, expires: now.Add(authCodeLifetime)}
	return code
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		sum := sha256.Sum256([]byte(randomGUID() + time.Now().String()))
		return b64.EncodeToString(sum[:])
	}
	return b64.EncodeToString(b)
}

// respondTo sends the authorization response v to redirect_uri in the
// response mode asked for: a 302 with v in the query (default) or the
// fragment, or for form_post the self-submitting form page Entra serves
// (MSAL's interactive flow asks for it).
func respondTo(w http.ResponseWriter, r *http.Request, redirectURI, mode string, v url.Values, requestID, corrID string) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		identityErrorPage(w, r, http.StatusBadRequest, 50011, "The redirect URI is not a valid URL.")
		return
	}
	setIdentityHeaders(w, requestID, corrID)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	switch mode {
	case "form_post":
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var inputs strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&inputs, "<input type=\"hidden\" name=\"%s\" value=\"%s\" />", htmlEscape(k), htmlEscape(v.Get(k)))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "<html><head><title>Working...</title></head><body><form method=\"POST\" name=\"hiddenform\" action=\"%s\">%s<noscript><p>Script is disabled. Click Submit to continue.</p><input type=\"submit\" value=\"Submit\" /></noscript></form><script language=\"javascript\">document.forms[0].submit();</script></body></html>",
			htmlEscape(redirectURI), inputs.String())
		return
	case "fragment":
		u.Fragment = ""
		u.RawFragment = ""
		w.Header().Set("Location", u.String()+"#"+v.Encode())
	default:
		qv := u.Query()
		for k, vals := range v {
			qv[k] = vals
		}
		u.RawQuery = qv.Encode()
		w.Header().Set("Location", u.String())
	}
	w.WriteHeader(http.StatusFound)
}

// identityErrorPage is the HTML page Entra shows when it cannot redirect
// (unknown app, redirect URI mismatch).
func identityErrorPage(w http.ResponseWriter, r *http.Request, status, aadsts int, text string) {
	id := randomGUID()
	setIdentityHeaders(w, id, id)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>Sign in to your account</title></head><body>\n<h1>Sorry, but we're having trouble signing you in.</h1>\n<p id=\"error\">AADSTS%d: %s</p>\n<p>Request Id: %s<br>Correlation Id: %s<br>Timestamp: %s</p>\n</body></html>\n",
		aadsts, htmlEscape(text), id, id, time.Now().UTC().Format(time.RFC3339))
}

// consentPage is the page a user would act on: it names the pending
// request so a test can decide it through the control API and then load
// the same authorization URL again.
func consentPage(w http.ResponseWriter, r *http.Request, p *PendingSignIn) {
	id := randomGUID()
	setIdentityHeaders(w, id, id)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Graphsim-Pending-Sign-In", p.ID)
	w.WriteHeader(http.StatusOK)
	who := p.LoginHint
	if who == "" {
		who = "(no login_hint: any user the harness picks)"
	}
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>Permissions requested</title></head><body>\n<h1>Permissions requested</h1>\n<p>Pending sign-in <code id=\"pending\">%s</code>: app <code>%s</code> in tenant <code>%s</code> asks user <code>%s</code> for: %s.</p>\n<p>Graph simulator: decide with POST /_sim/v1/tenants/{tenant}/apps/{app}/users/{user}/sign-in {\"approve\":true|false} (Server.DecideSignIn), then load this URL again.</p>\n</body></html>\n",
		htmlEscape(p.ID), htmlEscape(p.ClientID), htmlEscape(p.TenantID), htmlEscape(who), htmlEscape(strings.Join(p.Scopes, " ")))
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;").Replace(s)
}

// serveDeviceLoginPage is where verification_uri points: the page on which
// a user would type the code. Tests approve through the control API.
func (s *Server) serveDeviceLoginPage(w http.ResponseWriter, r *http.Request) {
	id := randomGUID()
	setIdentityHeaders(w, id, id)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "<!DOCTYPE html>\n<html><head><title>Enter code</title></head><body>\n<h1>Enter code</h1>\n<p>Graph simulator: approve with POST /_sim/v1/device-codes/{user_code}/approve {\"user\":\"...\"} (Server.ApproveDeviceCode).</p>\n</body></html>\n")
}

// serveDeviceCode is POST /{tenant}/oauth2/v2.0/devicecode (S7). MSAL
// derives the URL by replacing "token" in the token endpoint.
func (s *Server) serveDeviceCode(w http.ResponseWriter, r *http.Request, t *tenant) {
	if r.Method != http.MethodPost {
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 900561,
			fmt.Sprintf("The endpoint only accepts POST requests. Received a %s request.", r.Method))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	form := r.PostForm
	clientID := form.Get("client_id")
	if clientID == "" {
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	sc, msg, code := parseDelegatedScope(form.Get("scope"), s.URL())
	if code != 0 {
		writeScopeError(w, r, code, msg)
		return
	}
	now := time.Now()
	s.mu.Lock()
	tenantID, look := "", t
	if t != nil {
		tenantID = t.id
	} else {
		look = s.firstTenantWithApp(clientID)
	}
	if look == nil || look.apps[strings.ToLower(clientID)] == nil {
		name := tenantID
		if look != nil {
			name = look.displayName
		}
		s.mu.Unlock()
		writeIdentityError(w, r, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, name))
		return
	}
	st := &s.signin
	if st.devices == nil {
		st.devices, st.userCodes = map[string]*deviceGrant{}, map[string]*deviceGrant{}
	}
	if len(st.devices) >= maxSignInArtefacts {
		for k, d := range st.devices {
			if now.After(d.expires) {
				delete(st.devices, k)
				delete(st.userCodes, d.userCode)
			}
		}
	}
	dg := &deviceGrant{deviceCode: "DAQABAAEAAA" + randomToken(96), tenantID: tenantID, clientID: look.apps[strings.ToLower(clientID)].clientID,
		req: signInRequest{scope: sc}, expires: now.Add(deviceCodeLifetime), state: "pending"}
	for dg.userCode == "" || st.userCodes[dg.userCode] != nil {
		dg.userCode = randomUserCode()
	}
	st.devices[dg.deviceCode] = dg
	st.userCodes[dg.userCode] = dg
	s.mu.Unlock()

	verification := "https://" + r.Host + "/common/oauth2/deviceauth"
	id := randomGUID()
	setIdentityHeaders(w, id, id)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, contentTypeJSON, object{
		{"user_code", dg.userCode},
		{"device_code", dg.deviceCode},
		{"verification_uri", verification},
		{"expires_in", int(deviceCodeLifetime / time.Second)},
		{"interval", deviceCodeInterval},
		{"message", fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verification, dg.userCode)},
	})
}

const userCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func randomUserCode() string {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		sum := sha256.Sum256([]byte(randomGUID()))
		b = sum[:9]
	}
	for i := range b {
		b[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)]
	}
	return string(b)
}

// delegatedIssue is everything needed to answer a delegated grant.
type delegatedIssue struct {
	tenantID, clientID, appName string
	consentGen                  int
	userID, upn, name           string
	consented                   []string // the scp
	scope                       delegatedScope
	refresh                     bool
	nonce                       string
}

// serveDelegatedToken answers the authorization_code, refresh_token and
// device_code grants (S6-S8).
func (s *Server) serveDelegatedToken(w http.ResponseWriter, r *http.Request, grant string, t *tenant) {
	form := r.PostForm
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	basic := false
	if u, p, ok := r.BasicAuth(); ok {
		clientID, secret, basic = u, p, true
	}
	if clientID == "" {
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	reqScope, msg, code := parseDelegatedScope(form.Get("scope"), s.URL())
	if code != 0 && code != 900144 { // the scope may be omitted on redemption
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_scope", code, msg)
		return
	}
	cp1, err := wantsCP1(form.Get("claims"))
	if err != nil {
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 90100, "claims parameter is empty or not valid.")
		return
	}
	cred := clientCredential{secret: secret, given: secret != "" || basic, assertion: form.Get("client_assertion") != ""}
	var (
		issue *delegatedIssue
		fail  *idpErr
	)
	switch grant {
	case "authorization_code":
		issue, fail = s.redeemAuthCode(r, t, clientID, cred, reqScope)
	case "refresh_token":
		issue, fail = s.redeemRefreshToken(r, t, clientID, cred, reqScope)
	default:
		issue, fail = s.redeemDeviceCode(r, t, clientID, cred, reqScope)
	}
	if fail != nil {
		fail.write(w, r)
		return
	}
	s.writeDelegatedTokens(w, r, issue, cp1, form.Get("client_info") == "1")
}

// clientCredential is how a delegated-grant request authenticates its
// client: a secret, a certificate assertion, or nothing (public client).
type clientCredential struct {
	secret    string
	given     bool
	assertion bool
}

// authenticateDelegatedClient checks the client's credential for a
// delegated grant. A confidential client proves itself as for client
// credentials; a request without a credential is a public client, allowed
// only when the app allows public client flows (AADSTS7000218 otherwise).
// Callers hold s.mu.
func (s *Server) authenticateDelegatedClient(r *http.Request, t *tenant, a *app, c clientCredential, now time.Time) *idpErr {
	switch {
	case c.assertion:
		return s.delegatedAssertion(r, t, a, now)
	case !c.given:
		if a.deleg.publicClient {
			return nil
		}
		return &idpErr{http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", nil}
	}
	found, expired := a.secretExpired(c.secret, now)
	switch {
	case expired:
		return &idpErr{http.StatusUnauthorized, "invalid_client", 7000222, a.expiredSecretText(), nil}
	case !found:
		return &idpErr{http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", a.clientID), nil}
	}
	return nil
}

// delegatedAssertion checks a certificate client assertion on a delegated
// grant exactly as the client credentials grant does (client_assertion.go).
// Callers hold s.mu.
func (s *Server) delegatedAssertion(r *http.Request, t *tenant, a *app, now time.Time) *idpErr {
	f := s.checkClientAssertion(t, a, r, identityTenantSegment(r.URL.Path), r.PostForm, now)
	if f == nil {
		return nil
	}
	return &idpErr{f.status, f.errCode, f.aadsts, f.text, f.extra}
}

// grantApp resolves the tenant and app a grant artefact was issued in and
// checks it against the request's path tenant and client. Callers hold
// s.mu.
func (s *Server) grantApp(t *tenant, tenantID, artefactClient, clientID, what string) (*tenant, *app, *idpErr) {
	if t != nil && !strings.EqualFold(t.id, tenantID) {
		return nil, nil, invalidGrant(50020, fmt.Sprintf("The %s was issued in tenant '%s', not in '%s'.", what, tenantID, t.id))
	}
	tt := s.tenants[strings.ToLower(tenantID)]
	if tt == nil {
		return nil, nil, &idpErr{http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(tenantID), nil}
	}
	a := tt.apps[strings.ToLower(clientID)]
	if a == nil {
		return nil, nil, &idpErr{http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", clientID, tt.displayName), nil}
	}
	if !strings.EqualFold(artefactClient, clientID) {
		return nil, nil, invalidGrant(70000, fmt.Sprintf("The provided %s was issued to a different client.", what))
	}
	return tt, a, nil
}

// userIssue fills the user and consent part of an issue, refusing a user
// who is gone or consent that does not cover the scopes. Callers hold s.mu.
func userIssue(t *tenant, a *app, userID string, sc delegatedScope) (*delegatedIssue, *idpErr) {
	u := t.lookupUser(userID)
	if u == nil {
		return nil, invalidGrant(50034, fmt.Sprintf("The user account %s does not exist in the %s directory.", userID, t.displayName))
	}
	consented := a.deleg.consented(u.id)
	if a.consentRevoked || len(consented) == 0 || len(sc.toConsent(consented)) > 0 {
		return nil, consentRequired(a)
	}
	upn := u.upn
	if upn == "" {
		upn = u.mail
	}
	return &delegatedIssue{
		tenantID: t.id, clientID: a.clientID, appName: a.displayName, consentGen: a.consentGen,
		userID: u.id, upn: upn, name: u.displayName, consented: append([]string(nil), consented...), scope: sc,
	}, nil
}

// redeemAuthCode is the authorization_code grant.
func (s *Server) redeemAuthCode(r *http.Request, t *tenant, clientID string, cred clientCredential, reqScope delegatedScope) (*delegatedIssue, *idpErr) {
	form := r.PostForm
	codeVal := form.Get("code")
	if codeVal == "" {
		return nil, &idpErr{http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'code'.", nil}
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.signin.codes[codeVal]
	if c == nil {
		return nil, invalidGrant(9002313, "Invalid request. Request is malformed or invalid. The provided value for the 'code' parameter is not valid.")
	}
	tt, a, fail := s.grantApp(t, c.tenantID, c.clientID, clientID, "authorization code")
	if fail != nil {
		return nil, fail
	}
	if fail := s.authenticateDelegatedClient(r, tt, a, cred, now); fail != nil {
		return nil, fail
	}
	switch {
	case c.redeemed:
		return nil, invalidGrant(54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case now.After(c.expires):
		return nil, invalidGrant(70008, fmt.Sprintf("The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource. The code was issued on %s.", c.expires.Add(-authCodeLifetime).UTC().Format(time.RFC3339)))
	case form.Get("redirect_uri") != c.req.redirectURI:
		return nil, invalidGrant(50011, fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URI '%s' the authorization code was issued for.", form.Get("redirect_uri"), c.req.redirectURI))
	}
	if c.req.challenge != "" {
		sum := sha256.Sum256([]byte(form.Get("code_verifier")))
		if subtle.ConstantTimeCompare([]byte(b64.EncodeToString(sum[:])), []byte(c.req.challenge)) != 1 {
			return nil, invalidGrant(501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		}
	}
	issue, fail := userIssue(tt, a, c.userID, c.req.scope)
	if fail != nil {
		return nil, fail
	}
	c.redeemed = true
	issue.refresh = c.req.scope.offline || reqScope.offline
	issue.nonce = c.req.nonce
	return issue, nil
}

// redeemRefreshToken is the refresh_token grant: a new access token and a
// new refresh token; the old one stays valid (Entra does not revoke it).
func (s *Server) redeemRefreshToken(r *http.Request, t *tenant, clientID string, cred clientCredential, reqScope delegatedScope) (*delegatedIssue, *idpErr) {
	val := r.PostForm.Get("refresh_token")
	if val == "" {
		return nil, &idpErr{http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'refresh_token'.", nil}
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rg := s.signin.refresh[val]
	if rg == nil {
		return nil, invalidGrant(9002313, "Invalid request. Request is malformed or invalid. The provided refresh token is not valid.")
	}
	tt, a, fail := s.grantApp(t, rg.tenantID, rg.clientID, clientID, "refresh token")
	if fail != nil {
		return nil, fail
	}
	if fail := s.authenticateDelegatedClient(r, tt, a, cred, now); fail != nil {
		return nil, fail
	}
	switch {
	case rg.revoked:
		return nil, invalidGrant(50173, fmt.Sprintf("The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '%s' and the TokensValidFrom date (before which tokens are not valid) for this user is '%s'.",
			rg.issued.UTC().Format("2006-01-02T15:04:05.0000000Z"), now.UTC().Format("2006-01-02T15:04:05.0000000Z")))
	case rg.expired || now.Sub(rg.lastUsed) > refreshInactivity:
		return nil, invalidGrant(700082, fmt.Sprintf("The refresh token has expired due to inactivity. The token was issued on %s and was inactive for 90.00:00:00.", rg.issued.UTC().Format("2006-01-02T15:04:05.0000000Z")))
	}
	issue, fail := userIssue(tt, a, rg.userID, reqScope)
	if fail != nil {
		return nil, fail
	}
	rg.lastUsed = now
	issue.refresh = true
	return issue, nil
}

// redeemDeviceCode is the device_code grant, polled until the harness
// approves or declines the user code.
func (s *Server) redeemDeviceCode(r *http.Request, t *tenant, clientID string, cred clientCredential, reqScope delegatedScope) (*delegatedIssue, *idpErr) {
	val := r.PostForm.Get("device_code")
	if val == "" {
		return nil, &idpErr{http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'device_code'.", nil}
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	dg := s.signin.devices[val]
	if dg == nil {
		return nil, &idpErr{http.StatusBadRequest, "bad_verification_code", 70000, "The provided value for the 'device_code' parameter is not valid.", nil}
	}
	if !strings.EqualFold(dg.clientID, clientID) {
		return nil, invalidGrant(70000, "The provided device code was issued to a different client.")
	}
	// Client authentication comes first: an app that does not allow
	// public client flows fails here, before the user acts.
	home := dg.userTenantID
	if home == "" {
		home = dg.tenantID
	}
	lt := t
	if home != "" {
		lt = s.tenants[strings.ToLower(home)]
	} else if lt == nil {
		lt = s.firstTenantWithApp(clientID)
	}
	if lt == nil || lt.apps[strings.ToLower(clientID)] == nil {
		return nil, &idpErr{http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory.", clientID), nil}
	}
	if fail := s.authenticateDelegatedClient(r, lt, lt.apps[strings.ToLower(clientID)], cred, now); fail != nil {
		return nil, fail
	}
	switch {
	case dg.state == "redeemed":
		return nil, invalidGrant(54005, "The device code was already redeemed; start a new device code flow.")
	case now.After(dg.expires):
		return nil, &idpErr{http.StatusBadRequest, "expired_token", 70019, "Verification code expired.", nil}
	case dg.state == "declined":
		return nil, &idpErr{http.StatusBadRequest, "authorization_declined", 65004, "User declined to consent to access the app.", nil}
	case dg.state == "pending":
		return nil, &idpErr{http.StatusBadRequest, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.", nil}
	}
	tt, a, fail := s.grantApp(t, dg.userTenantID, dg.clientID, clientID, "device code")
	if fail != nil {
		return nil, fail
	}
	issue, fail := userIssue(tt, a, dg.userID, dg.req.scope)
	if fail != nil {
		return nil, fail
	}
	dg.state = "redeemed"
	issue.scope = dg.req.scope
	issue.refresh = dg.req.scope.offline || reqScope.offline
	return issue, nil
}

// newRefreshToken records a refresh token for (tenant, app, user).
// Callers hold s.mu.
func (s *Server) newRefreshToken(tenantID, clientID, userID string, now time.Time) string {
	st := &s.signin
	if st.refresh == nil {
		st.refresh = map[string]*refreshGrant{}
	}
	if len(st.refresh) >= maxSignInArtefacts {
		for k, rg := range st.refresh {
			if rg.revoked || rg.expired || now.Sub(rg.lastUsed) > refreshInactivity {
				delete(st.refresh, k)
			}
		}
	}
	if len(st.refresh) >= maxSignInArtefacts { // still full: drop the least recently used
		var oldK string
		var old time.Time
		for k, rg := range st.refresh {
			if oldK == "" || rg.lastUsed.Before(old) {
				oldK, old = k, rg.lastUsed
			}
		}
		delete(st.refresh, oldK)
	}
	tok := "1.AQ" + randomToken(96)
	st.refresh[tok] = &refreshGrant{tenantID: tenantID, clientID: clientID, userID: userID, issued: now, lastUsed: now}
	return tok
}

// writeDelegatedTokens signs the tokens and answers 200 (S6, S8).
func (s *Server) writeDelegatedTokens(w http.ResponseWriter, r *http.Request, di *delegatedIssue, cp1, clientInfo bool) {
	tok, err := s.issueAccessToken(tokenSpec{
		tenantID: di.tenantID, clientID: di.clientID, appName: di.appName, oid: di.userID,
		resource: "https://graph.microsoft.com", delegated: true, scp: strings.Join(di.consented, " "),
		cp1: cp1, consentGen: di.consentGen,
	})
	if err != nil {
		writeIdentityError(w, r, http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
		return
	}
	lifetime := int64(s.lifetime / time.Second)
	body := object{
		{"token_type", "Bearer"},
		{"scope", di.scope.responseScope(di.consented)},
		{"expires_in", lifetime},
		{"ext_expires_in", lifetime},
		{"access_token", tok},
	}
	if di.refresh {
		s.mu.Lock()
		rt := s.newRefreshToken(di.tenantID, di.clientID, di.userID, time.Now())
		s.mu.Unlock()
		body = append(body, kv{"refresh_token", rt})
	}
	oidc := di.scope.openid || di.scope.profile
	if oidc {
		idt, err := s.issueIDToken(r.Host, di)
		if err != nil {
			writeIdentityError(w, r, http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
			return
		}
		body = append(body, kv{"id_token", idt})
	}
	if oidc || clientInfo {
		ci, _ := marshalNoEscape(object{{"uid", di.userID}, {"utid", di.tenantID}})
		body = append(body, kv{"client_info", b64.EncodeToString(ci)})
	}
	writeTokenResponse(w, r, body)
}

// issueIDToken signs a v2.0 ID token for the app (aud = client ID), issued
// by the tenant's issuer on the host the request came in on.
func (s *Server) issueIDToken(host string, di *delegatedIssue) (string, error) {
	now := time.Now().Unix()
	uti := randomToken(16)[:22]
	sub := sha256.Sum256([]byte(di.userID + "\x00" + strings.ToLower(di.clientID)))
	claims := object{
		{"aud", di.clientID},
		{"iss", "https://" + host + "/" + di.tenantID + "/v2.0"},
		{"iat", now},
		{"nbf", now},
		{"exp", now + int64(idTokenLifetime/time.Second)},
		{"name", di.name},
	}
	if di.nonce != "" {
		claims = append(claims, kv{"nonce", di.nonce})
	}
	claims = append(claims,
		kv{"oid", di.userID},
		kv{"preferred_username", di.upn},
		kv{"rh", "0.graphsim." + uti[:8] + "."},
		kv{"sub", b64.EncodeToString(sub[:])[:43]},
		kv{"tid", di.tenantID},
		kv{"uti", uti},
		kv{"ver", "2.0"},
	)
	return s.signJWT(claims)
}
