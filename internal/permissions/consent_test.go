package permissions

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestGraphResourceIsTheScopeWithoutDefault(t *testing.T) {
	for scope, want := range map[string]string{
		"":                                     "https://graph.microsoft.com",
		"https://graph.microsoft.com/.default": "https://graph.microsoft.com",
		"https://graph.microsoft.us/.default":  "https://graph.microsoft.us",
		"https://graph.sim.test:8443/":         "https://graph.sim.test:8443",
	} {
		if got := GraphResource(scope); got != want {
			t.Errorf("GraphResource(%q) = %q, want %q", scope, got, want)
		}
	}
}

func TestUserConsentURLAsksExactlyTheScopesGiven(t *testing.T) {
	scopes := UserConsentScopes("https://graph.microsoft.us/", []string{"Mail.ReadBasic", "User.Read"})
	if want := []string{"openid", "profile", "offline_access", "https://graph.microsoft.us/Mail.ReadBasic", "https://graph.microsoft.us/User.Read"}; !reflect.DeepEqual(scopes, want) {
		t.Fatalf("UserConsentScopes = %q, want %q", scopes, want)
	}
	raw := UserConsentURL("https://login.microsoftonline.us/", "contoso.onmicrosoft.com", "c1d2", "https://of.example/auth/callback?x=1", scopes)
	if !strings.HasPrefix(raw, "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/authorize?client_id=c1d2&response_type=code&redirect_uri=") {
		t.Fatalf("URL %s: wrong endpoint or order", raw)
	}
	if strings.Contains(raw, "+") {
		t.Errorf("URL %s encodes spaces as +", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for k, want := range map[string]string{"client_id": "c1d2", "response_type": "code", "redirect_uri": "https://of.example/auth/callback?x=1",
		"response_mode": "query", "prompt": "consent"} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	if got := strings.Fields(q.Get("scope")); !reflect.DeepEqual(got, scopes) {
		t.Errorf("scope = %q, want %q", got, scopes)
	}
	if q.Has("state") || q.Has("code_challenge") {
		t.Errorf("a consent URL carries no state or PKCE: %s", raw)
	}
}
