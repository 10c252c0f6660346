package graphsim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Control operations for the delegated flows (identity_delegated.go): the
// test harness plays the user who signs in, consents or declines, enters
// a device code, has their sessions revoked or withdraws consent; and the
// admin who registers redirect URIs and allows public client flows.

// DemoRedirectURIs are the redirect URIs the demo tenant's app registers.
// The http loopback ones match any port.
func DemoRedirectURIs() []string {
	return []string{"http://localhost", "http://localhost/auth/callback", "https://localhost/auth/callback"}
}

// SetRedirectURIs replaces the app's registered redirect URIs.
func (s *Server) SetRedirectURIs(tenantID, clientID string, uris []string) error {
	if err := checkRedirectURIs(uris); err != nil {
		return err
	}
	return s.withApp(tenantID, clientID, func(a *app) error {
		a.deleg.redirectURIs = append([]string(nil), uris...)
		return nil
	})
}

// AddRedirectURIs adds redirect URIs to the app's registration.
func (s *Server) AddRedirectURIs(tenantID, clientID string, uris ...string) error {
	if err := checkRedirectURIs(uris); err != nil {
		return err
	}
	return s.withApp(tenantID, clientID, func(a *app) error {
		for _, u := range uris {
			if !containsString(a.deleg.redirectURIs, u) {
				a.deleg.redirectURIs = append(a.deleg.redirectURIs, u)
			}
		}
		return nil
	})
}

// RedirectURIs returns the app's registered redirect URIs.
func (s *Server) RedirectURIs(tenantID, clientID string) ([]string, error) {
	var out []string
	err := s.withApp(tenantID, clientID, func(a *app) error {
		out = append([]string(nil), a.deleg.redirectURIs...)
		return nil
	})
	return out, err
}

func checkRedirectURIs(uris []string) error {
	for _, u := range uris {
		p, err := url.Parse(u)
		if err != nil || p.Scheme == "" || p.Host == "" || p.Fragment != "" {
			return fmt.Errorf("graphsim: redirect URI %q must be an absolute URL without a fragment", u)
		}
	}
	return nil
}

// SetPublicClient switches the app's "Allow public client flows": device
// code, and redeeming codes and refresh tokens without a client secret.
func (s *Server) SetPublicClient(tenantID, clientID string, allow bool) error {
	return s.withApp(tenantID, clientID, func(a *app) error {
		a.deleg.publicClient = allow
		return nil
	})
}

// withAppUser runs fn on an app and a user of its tenant under the lock.
func (s *Server) withAppUser(tenantID, clientID, userIDOrUPN string, fn func(*tenant, *app, *user) error) error {
	return s.withApp(tenantID, clientID, func(a *app) error {
		t := s.tenants[strings.ToLower(tenantID)]
		u := t.lookupUser(userIDOrUPN)
		if u == nil {
			return fmt.Errorf("%w: user %q in tenant %q", ErrNotFound, userIDOrUPN, tenantID)
		}
		return fn(t, a, u)
	})
}

// DecideSignIn answers the user's next authorization request to the app
// (GET .../oauth2/v2.0/authorize with this user as login_hint, or with no
// login_hint): approve consents to the scopes asked for and redirects with
// a code; decline redirects with access_denied (AADSTS65004). A decision
// is used once; it may be given before the request or after the consent
// page showed it pending.
func (s *Server) DecideSignIn(tenantID, clientID, userIDOrUPN string, approve bool) error {
	return s.withAppUser(tenantID, clientID, userIDOrUPN, func(t *tenant, a *app, u *user) error {
		s.signin.decisions = append(s.signin.decisions, &signInDecision{tenantID: t.id, clientID: a.clientID, userID: u.id, approve: approve})
		if len(s.signin.decisions) > maxPendingSignIns {
			s.signin.decisions = s.signin.decisions[1:]
		}
		return nil
	})
}

// PendingSignIns lists the authorization requests that got the consent
// page and wait for a DecideSignIn, oldest first.
func (s *Server) PendingSignIns() []PendingSignIn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PendingSignIn, 0, len(s.signin.pending))
	for _, p := range s.signin.pending {
		c := *p
		c.Scopes = append([]string(nil), p.Scopes...)
		out = append(out, c)
	}
	return out
}

// GrantUserConsent records the user's consent to delegated Graph scopes
// for the app, as if they had consented before (bare names such as
// "Mail.Read").
func (s *Server) GrantUserConsent(tenantID, clientID, userIDOrUPN string, scopes []string) error {
	sc, msg, code := parseDelegatedScope(strings.Join(scopes, " "), s.URL())
	if code != 0 {
		return fmt.Errorf("graphsim: scopes %v: %s", scopes, msg)
	}
	return s.withAppUser(tenantID, clientID, userIDOrUPN, func(_ *tenant, a *app, u *user) error {
		a.deleg.grant(u.id, sc.toConsent(a.deleg.consented(u.id)))
		return nil
	})
}

// UserConsent returns the delegated Graph scopes the user consented to for
// the app, sorted.
func (s *Server) UserConsent(tenantID, clientID, userIDOrUPN string) ([]string, error) {
	var out []string
	err := s.withAppUser(tenantID, clientID, userIDOrUPN, func(_ *tenant, a *app, u *user) error {
		out = append([]string(nil), a.deleg.consented(u.id)...)
		return nil
	})
	return out, err
}

// WithdrawUserConsent removes the user's consent for the app: the user's
// refresh tokens for it then fail with invalid_grant AADSTS65001 and the
// next sign-in needs a new consent decision. Other users are unaffected.
func (s *Server) WithdrawUserConsent(tenantID, clientID, userIDOrUPN string) error {
	return s.withAppUser(tenantID, clientID, userIDOrUPN, func(_ *tenant, a *app, u *user) error {
		delete(a.deleg.consents, strings.ToLower(u.id))
		return nil
	})
}

// markUserRefreshTokens applies fn to every refresh token the user holds,
// for any app of the tenant.
func (s *Server) markUserRefreshTokens(tenantID, userIDOrUPN string, fn func(*refreshGrant)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return err
	}
	for _, rg := range s.signin.refresh {
		if rg.tenantID == t.id && strings.EqualFold(rg.userID, u.id) {
			fn(rg)
		}
	}
	return nil
}

// RevokeUserRefreshTokens revokes every refresh token the user holds (what
// revokeSignInSessions or a password reset does): redeeming one fails with
// invalid_grant AADSTS50173. Tokens from later sign-ins work.
func (s *Server) RevokeUserRefreshTokens(tenantID, userIDOrUPN string) error {
	return s.markUserRefreshTokens(tenantID, userIDOrUPN, func(rg *refreshGrant) { rg.revoked = true })
}

// ExpireUserRefreshTokens ages the user's refresh tokens past the
// inactivity limit: redeeming one fails with invalid_grant AADSTS700082.
func (s *Server) ExpireUserRefreshTokens(tenantID, userIDOrUPN string) error {
	return s.markUserRefreshTokens(tenantID, userIDOrUPN, func(rg *refreshGrant) { rg.expired = true })
}

// PendingDeviceCode is a device code waiting for the user.
type PendingDeviceCode struct {
	UserCode  string    `json:"userCode"`
	TenantID  string    `json:"tenantId,omitempty"` // "" when requested on organizations/common
	ClientID  string    `json:"clientId"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// PendingDeviceCodes lists the unexpired device codes nobody approved or
// declined yet, by user code.
func (s *Server) PendingDeviceCodes() []PendingDeviceCode {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PendingDeviceCode
	for _, d := range s.signin.userCodes {
		if d.state == "pending" && now.Before(d.expires) {
			out = append(out, PendingDeviceCode{UserCode: d.userCode, TenantID: d.tenantID, ClientID: d.clientID, Scopes: d.req.scope.display(), ExpiresAt: d.expires})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserCode < out[j].UserCode })
	return out
}

// withDeviceCode runs fn on a pending device code under the lock.
func (s *Server) withDeviceCode(userCode string, fn func(*deviceGrant) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.signin.userCodes[strings.ToUpper(strings.TrimSpace(userCode))]
	if d == nil {
		return fmt.Errorf("%w: device code with user code %q", ErrNotFound, userCode)
	}
	if d.state != "pending" {
		return fmt.Errorf("graphsim: device code %q is already %s", userCode, d.state)
	}
	return fn(d)
}

// ApproveDeviceCode signs the user (ID or UPN) in on the device code's
// page and consents to the scopes it asked for; the client's next poll
// gets the tokens. On organizations/common the user may belong to any
// tenant that registers the app.
func (s *Server) ApproveDeviceCode(userCode, userIDOrUPN string) error {
	return s.withDeviceCode(userCode, func(d *deviceGrant) error {
		var (
			t *tenant
			u *user
		)
		if d.tenantID != "" {
			if t = s.tenants[strings.ToLower(d.tenantID)]; t != nil {
				u = t.lookupUser(userIDOrUPN)
			}
		} else {
			t, u = s.lookupUserAnyTenant(userIDOrUPN, d.clientID)
		}
		if t == nil || u == nil {
			return fmt.Errorf("%w: user %q for device code %q", ErrNotFound, userIDOrUPN, userCode)
		}
		a := t.apps[strings.ToLower(d.clientID)]
		if a == nil {
			return fmt.Errorf("%w: app %q in tenant %q", ErrNotFound, d.clientID, t.id)
		}
		if time.Now().After(d.expires) {
			return errors.New("graphsim: device code " + userCode + " has expired")
		}
		a.deleg.grant(u.id, d.req.scope.toConsent(a.deleg.consented(u.id)))
		d.state, d.userTenantID, d.userID = "approved", t.id, u.id
		return nil
	})
}

// DeclineDeviceCode declines the device code: polling answers
// authorization_declined.
func (s *Server) DeclineDeviceCode(userCode string) error {
	return s.withDeviceCode(userCode, func(d *deviceGrant) error {
		d.state = "declined"
		return nil
	})
}

// ExpireDeviceCode ends the device code's lifetime now: polling answers
// expired_token.
func (s *Server) ExpireDeviceCode(userCode string) error {
	return s.withDeviceCode(userCode, func(d *deviceGrant) error {
		d.expires = time.Now().Add(-time.Second)
		return nil
	})
}

// controlAppSignIn handles POST /_sim/v1/tenants/{tid}/apps/{cid}/{action}
// for the delegated flows; controlApp calls it for actions it does not
// know. It reports whether it answered.
func (s *Server) controlAppSignIn(r *http.Request, tenantID, clientID, action string, done func(error)) bool {
	switch action {
	case "redirect-uris":
		var body struct {
			URIs    []string `json:"uris"`
			Replace bool     `json:"replace"`
		}
		if err := decodeControl(r, &body); err != nil {
			done(err)
		} else if body.Replace {
			done(s.SetRedirectURIs(tenantID, clientID, body.URIs))
		} else {
			done(s.AddRedirectURIs(tenantID, clientID, body.URIs...))
		}
		return true
	case "public-client":
		var body struct {
			Allow bool `json:"allow"`
		}
		if err := decodeControl(r, &body); err != nil {
			done(err)
		} else {
			done(s.SetPublicClient(tenantID, clientID, body.Allow))
		}
		return true
	}
	parts := strings.Split(action, "/")
	if len(parts) != 3 || parts[0] != "users" {
		return false
	}
	user := parts[1]
	switch parts[2] {
	case "sign-in":
		var body struct {
			Approve bool `json:"approve"`
		}
		if err := decodeControl(r, &body); err != nil {
			done(err)
		} else {
			done(s.DecideSignIn(tenantID, clientID, user, body.Approve))
		}
	case "consent":
		var body struct {
			Scopes []string `json:"scopes"`
		}
		if err := decodeControl(r, &body); err != nil {
			done(err)
		} else {
			done(s.GrantUserConsent(tenantID, clientID, user, body.Scopes))
		}
	case "withdraw-consent":
		done(s.WithdrawUserConsent(tenantID, clientID, user))
	default:
		return false
	}
	return true
}

// serveControlSignIn handles the other control routes of the delegated
// flows. It reports whether it answered.
func (s *Server) serveControlSignIn(w http.ResponseWriter, r *http.Request, parts []string) bool {
	ok := func(v any) { writeJSON(w, http.StatusOK, contentTypeJSON, v) }
	done := func(err error) {
		if err != nil {
			controlError(w, err)
			return
		}
		ok(object{{"ok", true}})
	}
	m := r.Method
	switch {
	case m == http.MethodGet && len(parts) == 1 && parts[0] == "sign-ins":
		ok(object{{"value", s.PendingSignIns()}})
	case m == http.MethodGet && len(parts) == 1 && parts[0] == "device-codes":
		out := s.PendingDeviceCodes()
		if out == nil {
			out = []PendingDeviceCode{}
		}
		ok(object{{"value", out}})
	case m == http.MethodPost && len(parts) == 3 && parts[0] == "device-codes":
		switch parts[2] {
		case "approve":
			var body struct {
				User string `json:"user"`
			}
			if err := decodeControl(r, &body); err != nil {
				done(err)
			} else {
				done(s.ApproveDeviceCode(parts[1], body.User))
			}
		case "decline":
			done(s.DeclineDeviceCode(parts[1]))
		case "expire":
			done(s.ExpireDeviceCode(parts[1]))
		default:
			return false
		}
	case m == http.MethodPost && len(parts) == 5 && parts[0] == "tenants" && parts[2] == "users" && parts[4] == "revoke-sign-in-sessions":
		done(s.RevokeUserRefreshTokens(parts[1], parts[3]))
	case m == http.MethodPost && len(parts) == 5 && parts[0] == "tenants" && parts[2] == "users" && parts[4] == "expire-refresh-tokens":
		done(s.ExpireUserRefreshTokens(parts[1], parts[3]))
	case m == http.MethodGet && len(parts) == 5 && parts[0] == "tenants" && parts[2] == "apps" && parts[4] == "redirect-uris":
		uris, err := s.RedirectURIs(parts[1], parts[3])
		if err != nil {
			controlError(w, err)
		} else {
			if uris == nil {
				uris = []string{}
			}
			ok(object{{"uris", uris}})
		}
	case m == http.MethodGet && len(parts) == 7 && parts[0] == "tenants" && parts[2] == "apps" && parts[4] == "users" && parts[6] == "consent":
		scopes, err := s.UserConsent(parts[1], parts[3], parts[5])
		if err != nil {
			controlError(w, err)
		} else {
			if scopes == nil {
				scopes = []string{}
			}
			ok(object{{"scopes", scopes}})
		}
	default:
		return false
	}
	return true
}
