package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The Microsoft identity platform side: tenant discovery, the token endpoint
// for client credentials, instance discovery and the signing keys.

// graphResources are the resource identifiers whose "/.default" scope yields
// a Graph token. The simulator's own origin is accepted too, so a config may
// name the simulator as the Graph resource.
var graphResources = []string{
	"https://graph.microsoft.com",
	"00000003-0000-0000-c000-000000000000",
	"https://graph.microsoft.us",
	"https://dod-graph.microsoft.us",
	"https://microsoftgraph.chinacloudapi.cn",
	"https://canary.graph.microsoft.com",
}

func (s *Server) serveIdentity(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	tenantSeg := parts[0]
	rest := strings.ToLower(strings.Join(parts[1:], "/"))

	if strings.EqualFold(tenantSeg, "common") && rest == "discovery/instance" {
		s.serveInstanceDiscovery(w, r)
		return
	}
	t := s.tenantFor(tenantSeg)
	if t != nil {
		infoFrom(r).tenantID = t.id
	}
	if s.serveDelegatedIdentity(w, r, tenantSeg, t, rest) { // identity_delegated.go
		return
	}
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		if t == nil {
			// Entra answers discovery for an unknown tenant with 400
			// invalid_tenant; MSAL copies the body into its error.
			writeIdentityError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, tenantNotFound(tenantSeg))
			return
		}
		s.serveOpenIDConfiguration(w, r, t)
	case "discovery/v2.0/keys", "discovery/keys":
		w.Header().Set("Cache-Control", "max-age=86400, private")
		writeJSON(w, http.StatusOK, contentTypeJSON, s.jwks())
	case "oauth2/v2.0/token":
		s.serveToken(w, r, tenantSeg, t)
	default:
		writeIdentityError(w, r, http.StatusNotFound, "invalid_request", 900561,
			fmt.Sprintf("The endpoint '/%s' is not supported by the Graph simulator.", rest))
	}
}

// tenantFor resolves a tenant by ID or verified domain, case-insensitively:
// MSAL lower-cases the authority URL.
func (s *Server) tenantFor(key string) *tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[strings.ToLower(key)]
}

func tenantNotFound(key string) string {
	return fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", key)
}

// serveOpenIDConfiguration answers MSAL's tenant discovery (S1). The issuer
// must share scheme and host:port with the authority, so every URL is built
// from the host the request came in on.
func (s *Server) serveOpenIDConfiguration(w http.ResponseWriter, r *http.Request, t *tenant) {
	base := "https://" + r.Host
	tb := base + "/" + t.id
	body := object{
		{"token_endpoint", tb + "/oauth2/v2.0/token"},
		{"token_endpoint_auth_methods_supported", []string{"client_secret_post", "private_key_jwt", "client_secret_basic"}},
		{"jwks_uri", tb + "/discovery/v2.0/keys"},
		{"response_modes_supported", []string{"query", "fragment", "form_post"}},
		{"subject_types_supported", []string{"pairwise"}},
		{"id_token_signing_alg_values_supported", []string{"ES256"}},
		{"response_types_supported", []string{"code", "id_token", "code id_token", "id_token token"}},
		{"scopes_supported", []string{"openid", "profile", "email", "offline_access"}},
		{"issuer", tb + "/v2.0"},
		{"request_uri_parameter_supported", false},
		{"userinfo_endpoint", base + "/oidc/userinfo"},
		{"authorization_endpoint", tb + "/oauth2/v2.0/authorize"},
		{"device_authorization_endpoint", tb + "/oauth2/v2.0/devicecode"},
		{"http_logout_supported", true},
		{"frontchannel_logout_supported", true},
		{"end_session_endpoint", tb + "/oauth2/v2.0/logout"},
		{"claims_supported", []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"}},
		{"kerberos_endpoint", tb + "/kerberos"},
		{"tenant_region_scope", "WW"},
		{"cloud_instance_name", s.hostname},
		{"cloud_graph_host_name", "graph.windows.net"},
		{"msgraph_host", r.Host},
		{"rbac_url", "https://pas.windows.net"},
	}
	id := randomGUID()
	setIdentityHeaders(w, id, id)
	w.Header().Set("Cache-Control", "max-age=86400, private")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, contentTypeJSON, body)
}

// serveInstanceDiscovery answers /common/discovery/instance (S2). Clients
// are configured with DisableInstanceDiscovery, so this only matters if a
// client is misconfigured while still pointed at the simulator.
func (s *Server) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	tenant := "common"
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		// https://{host}/{tenant}/oauth2/v2.0/authorize
		if i := strings.Index(ae, "://"); i >= 0 {
			segs := strings.Split(ae[i+3:], "/")
			if len(segs) > 1 && segs[1] != "" {
				tenant = segs[1]
			}
		}
	}
	body := object{
		{"tenant_discovery_endpoint", fmt.Sprintf("https://%s/%s/v2.0/.well-known/openid-configuration", r.Host, tenant)},
		{"api-version", "1.1"},
		{"metadata", []object{{
			{"preferred_network", r.Host},
			{"preferred_cache", r.Host},
			{"aliases", []string{r.Host}},
		}}},
	}
	id := randomGUID()
	setIdentityHeaders(w, id, id)
	w.Header().Set("Cache-Control", "max-age=86400, private")
	writeJSON(w, http.StatusOK, contentTypeJSON, body)
}

// serveToken is POST /{tenant}/oauth2/v2.0/token (S3-S5) for the client
// credentials grant; serveDelegatedIdentity answers the delegated grants
// before it (identity_delegated.go).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenantSeg string, t *tenant) {
	if r.Method != http.MethodPost {
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 900561,
			fmt.Sprintf("The endpoint only accepts POST requests. Received a %s request.", r.Method))
		return
	}
	// ParseForm reads application/x-www-form-urlencoded bodies, with or
	// without the "; charset=utf-8" MSAL adds.
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'grant_type'.")
		return
	}
	form := r.PostForm
	if t == nil {
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(tenantSeg))
		return
	}
	grant := form.Get("grant_type")
	switch grant {
	case "":
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'grant_type'.")
		return
	case "client_credentials":
	default:
		writeIdentityError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("The app requested an unsupported grant type '%s'. (The Graph simulator implements client_credentials, authorization_code, refresh_token and device_code.)", grant))
		return
	}

	clientID, clientSecret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok { // client_secret_basic
		clientID, clientSecret = u, p
	}
	if clientID == "" {
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'client_id'.")
		return
	}

	now := time.Now()
	s.mu.Lock()
	a := t.apps[strings.ToLower(clientID)]
	var (
		status     int
		errCode    string
		aadsts     int
		text       string
		extra      []kv
		appName    string
		spID       string
		roles      []string
		gen        int
		tenantID   = t.id
		tenantName = t.displayName
	)
	switch {
	case a == nil:
		status, errCode, aadsts = http.StatusBadRequest, "unauthorized_client", 700016
		text = fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenantName)
	case clientSecret == "" && usesClientAssertion(form): // certificate credentials: client_assertion.go
		if f := s.checkClientAssertion(t, a, r, tenantSeg, form, now); f != nil {
			status, errCode, aadsts, text, extra = f.status, f.errCode, f.aadsts, f.text, f.extra
		} else {
			appName, spID, gen, roles = a.displayName, a.spID, a.consentGen, append([]string(nil), a.roles...)
		}
	case clientSecret == "":
		status, errCode, aadsts = http.StatusUnauthorized, "invalid_client", 7000216
		text = "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type."
	default:
		found, expired := a.secretExpired(clientSecret, now)
		switch {
		case expired:
			status, errCode, aadsts = http.StatusUnauthorized, "invalid_client", 7000222
			text = a.expiredSecretText()
		case !found:
			status, errCode, aadsts = http.StatusUnauthorized, "invalid_client", 7000215
			text = fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", a.clientID)
		case a.consentRevoked:
			status, errCode, aadsts = http.StatusBadRequest, "invalid_grant", 65001
			text = fmt.Sprintf("The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", a.clientID, a.displayName)
			extra = []kv{{"suberror", "consent_required"}}
		default:
			appName, spID, gen = a.displayName, a.spID, a.consentGen
			roles = append([]string(nil), a.roles...)
		}
	}
	s.mu.Unlock()
	if status != 0 {
		writeIdentityError(w, r, status, errCode, aadsts, text, extra...)
		return
	}

	resource, msg, code := parseClientCredentialsScope(form.Get("scope"), s.URL())
	if code != 0 {
		writeScopeError(w, r, code, msg)
		return
	}
	cp1, err := wantsCP1(form.Get("claims"))
	if err != nil {
		writeIdentityError(w, r, http.StatusBadRequest, "invalid_request", 90100, "claims parameter is empty or not valid.")
		return
	}

	tok, err := s.issueAccessToken(tokenSpec{
		tenantID: tenantID, clientID: clientID, appName: appName, oid: spID,
		resource: resource, roles: roles, cp1: cp1, consentGen: gen,
	})
	if err != nil {
		writeIdentityError(w, r, http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
		return
	}

	lifetime := int64(s.lifetime / time.Second)
	writeTokenResponse(w, r, object{
		{"token_type", "Bearer"},
		{"expires_in", lifetime},
		{"ext_expires_in", lifetime},
		{"access_token", tok},
	})
}

// parseClientCredentialsScope checks the scope of a client-credentials
// request: exactly one "{resource}/.default" for Graph, plus any of the OIDC
// scopes MSAL always appends ("openid offline_access profile"). It returns
// the token audience, or an AADSTS code and message.
func parseClientCredentialsScope(scope, selfURL string) (aud, msg string, code int) {
	if strings.TrimSpace(scope) == "" {
		return "", "The request body must contain the following parameter: 'scope'.", 900144
	}
	var resources []string
	for _, sc := range strings.Fields(scope) {
		switch strings.ToLower(sc) {
		case "openid", "offline_access", "profile", "email":
			continue
		}
		res, ok := strings.CutSuffix(sc, "/.default")
		if !ok {
			return "", fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", sc), 1002012
		}
		resources = append(resources, strings.TrimSuffix(res, "/"))
	}
	switch len(resources) {
	case 0:
		return "", fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope), 70011
	case 1:
	default:
		return "", "The provided value for the input parameter 'scope' is not valid. The scope contains more than one resource.", 70011
	}
	res := resources[0]
	for _, g := range append(graphResources, selfURL) {
		if strings.EqualFold(res, g) {
			return g, "", 0
		}
	}
	return "", fmt.Sprintf("The resource principal named %s was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", res), 500011
}

// wantsCP1 reports whether the claims request declares the CAE client
// capability, {"access_token":{"xms_cc":{"values":["CP1"]}}}.
func wantsCP1(claims string) (bool, error) {
	if claims == "" {
		return false, nil
	}
	var c struct {
		AccessToken struct {
			XmsCC struct {
				Values []string `json:"values"`
			} `json:"xms_cc"`
		} `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(claims), &c); err != nil {
		return false, err
	}
	for _, v := range c.AccessToken.XmsCC.Values {
		if strings.EqualFold(v, "CP1") {
			return true, nil
		}
	}
	return false, nil
}

// tokenSpec describes an access token to issue.
type tokenSpec struct {
	tenantID, clientID, appName string
	oid                         string // service principal (app-only) or user (delegated)
	resource                    string // audience
	roles                       []string
	delegated                   bool
	scp                         string // delegated scopes, space-separated
	cp1                         bool   // the client declared the CAE capability
	consentGen                  int
}

// issueAccessToken signs a v1-format Graph access token shaped like
// Entra's (claims in Entra's order) and remembers it for CAE checks.
func (s *Server) issueAccessToken(ts tokenSpec) (string, error) {
	now := time.Now().Unix()
	uti := b64.EncodeToString([]byte(randomGUID()))[:22]
	iss := "https://sts.windows.net/" + ts.tenantID + "/"
	idtyp := "app"
	if ts.delegated {
		idtyp = "user"
	}
	claims := object{
		{"aud", ts.resource},
		{"iss", iss},
		{"iat", now},
		{"nbf", now},
		{"exp", now + int64(s.lifetime/time.Second)},
		{"aio", b64.EncodeToString([]byte(uti + ts.tenantID))[:40]},
		{"app_displayname", ts.appName},
		{"appid", ts.clientID},
		{"appidacr", "1"},
		{"azp", ts.clientID},
		{"idp", iss},
		{"idtyp", idtyp},
		{"oid", ts.oid},
		{"rh", "0.graphsim." + uti[:8] + "."},
	}
	if len(ts.roles) > 0 && !ts.delegated {
		claims = append(claims, kv{"roles", ts.roles})
	}
	if ts.delegated {
		claims = append(claims, kv{"scp", ts.scp})
	}
	claims = append(claims,
		kv{"sub", ts.oid},
		kv{"tenant_region_scope", "WW"},
		kv{"tid", ts.tenantID},
		kv{"uti", uti},
		kv{"ver", "1.0"},
	)
	if ts.cp1 {
		claims = append(claims, kv{"xms_cc", []string{"CP1"}})
	}
	tok, err := s.signJWT(claims)
	if err != nil {
		return "", err
	}
	exp := now + int64(s.lifetime/time.Second)
	s.mu.Lock()
	if len(s.tokens) >= maxTrackedTokens {
		for k, v := range s.tokens {
			if v.exp < now {
				delete(s.tokens, k)
			}
		}
	}
	s.tokens[uti] = issuedToken{consentGen: ts.consentGen, exp: exp}
	s.mu.Unlock()
	return tok, nil
}

// writeScopeError answers a refused scope parameter: invalid_request when
// it is missing (AADSTS900144), invalid_scope otherwise.
func writeScopeError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	errName := "invalid_scope"
	if code == 900144 {
		errName = "invalid_request"
	}
	writeIdentityError(w, r, http.StatusBadRequest, errName, code, msg)
}

// writeTokenResponse answers a token request that succeeded: 200 with the
// identity platform's request headers (a fresh request ID; the client's
// correlation ID echoed when it is a GUID) and no caching.
func writeTokenResponse(w http.ResponseWriter, r *http.Request, body object) {
	id := randomGUID()
	corr := r.Header.Get("client-request-id")
	if !isGUID(corr) {
		corr = id
	}
	setIdentityHeaders(w, id, corr)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Expires", "-1")
	writeJSON(w, http.StatusOK, contentTypeJSON, body)
}
