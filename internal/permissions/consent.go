package permissions

import (
	"net/url"
	"strings"
)

// OIDCScopes are the OpenID scopes every delegated sign-in asks for beside
// the Graph scopes: the ID token (openid, profile) and a refresh token
// (offline_access).
var OIDCScopes = []string{"openid", "profile", "offline_access"}

// GraphResource is the Graph resource a cloud's .default scope names
// (cloud.graphScope without "/.default"); delegated scopes are it plus "/"
// plus the permission. Empty means the global cloud's.
func GraphResource(graphScope string) string {
	if graphScope == "" {
		return "https://graph.microsoft.com"
	}
	return strings.TrimSuffix(strings.TrimSuffix(graphScope, "/.default"), "/")
}

// UserConsentScopes are the scopes a user consents to for the delegated
// permissions perms: the OpenID scopes, then each permission as a full URI
// of resource (https://graph.microsoft.com/Mail.ReadBasic), in perms' order.
func UserConsentScopes(resource string, perms []string) []string {
	out := append([]string(nil), OIDCScopes...)
	prefix := strings.TrimSuffix(resource, "/") + "/"
	for _, p := range perms {
		out = append(out, prefix+p)
	}
	return out
}

// UserConsentURL is the identity platform's authorization request that asks
// one user's consent to exactly scopes (UserConsentScopes), prompt=consent
// so the consent page shows even when they consented before. It carries no
// PKCE challenge and no state: it is for reviewing or granting consent,
// not for connecting a user (the code it ends with is not redeemed).
func UserConsentURL(authorityHost, tenantID, clientID, redirectURL string, scopes []string) string {
	q := []string{
		"client_id=" + queryEscape(clientID),
		"response_type=code",
		"redirect_uri=" + queryEscape(redirectURL),
		"response_mode=query",
		"scope=" + queryEscape(strings.Join(scopes, " ")),
		"prompt=consent",
	}
	return strings.TrimRight(authorityHost, "/") + "/" + url.PathEscape(tenantID) + "/oauth2/v2.0/authorize?" + strings.Join(q, "&")
}

// queryEscape escapes a query value with spaces as %20, which every
// reader of the URL takes as a space ("+" is a form encoding).
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
