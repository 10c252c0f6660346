package graphsim

import (
	"fmt"
	"strings"
)

// DelegatedAccessToken issues the access token the identity platform would
// give the app (client ID) after the user (ID or UPN) signed in and
// consented to scopes: scp holds the scopes, oid the user. Graph checks it
// like any token it issued, so tests can reach delegated-only routes
// (findMeetingTimes, /me) without running a sign-in; the flows themselves
// (authorization code, device code, refresh) are in identity_delegated.go.
// An app whose consent is revoked gets no token.
func (s *Server) DelegatedAccessToken(tenantID, clientID, userIDOrUPN string, scopes []string) (string, error) {
	var spec tokenSpec
	err := s.withApp(tenantID, clientID, func(a *app) error {
		t := s.tenants[strings.ToLower(tenantID)]
		u := t.lookupUser(userIDOrUPN)
		if u == nil {
			return fmt.Errorf("%w: user %q in tenant %q", ErrNotFound, userIDOrUPN, tenantID)
		}
		if a.consentRevoked {
			return fmt.Errorf("graphsim: app %s has no consent in tenant %s (AADSTS65001)", clientID, tenantID)
		}
		spec = tokenSpec{tenantID: t.id, clientID: a.clientID, appName: a.displayName, oid: u.id,
			resource: "https://graph.microsoft.com", delegated: true, scp: strings.Join(scopes, " "), consentGen: a.consentGen}
		return nil
	})
	if err != nil {
		return "", err
	}
	return s.issueAccessToken(spec)
}
