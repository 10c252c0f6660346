package graphclient

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/graphsim"
)

func TestBetaBaseURLReplacesTheVersionSegment(t *testing.T) {
	for in, want := range map[string]string{
		"https://graph.microsoft.com/v1.0":             "https://graph.microsoft.com/beta",
		"https://graph.microsoft.com/v1.0/":            "https://graph.microsoft.com/beta",
		"https://graph.microsoft.us/beta":              "https://graph.microsoft.us/beta",
		"https://microsoftgraph.chinacloudapi.cn/v1.0": "https://microsoftgraph.chinacloudapi.cn/beta",
		"https://proxy.example:8443/graph/v1.0":        "https://proxy.example:8443/graph/beta",
	} {
		if got, err := betaBaseURL(in); err != nil || got != want {
			t.Errorf("betaBaseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	var ge *activities.GraphError
	if _, err := betaBaseURL("https://graph.microsoft.com/"); !errors.As(err, &ge) || ge.Kind != activities.KindMisconfigured {
		t.Errorf("a base URL without a version: %v, want Misconfigured", err)
	}
}

// CallBeta reaches /beta on the configured host through the same pipeline
// as Call: the token goes only to allowed hosts, Graph's errors are
// classified, and the mailbox's request limits apply.
func TestCallBetaGoesThroughTheSamePipelineToBeta(t *testing.T) {
	c, sim, _ := simClient(t, 0, nil)
	user := "22222222-0000-4000-8000-0000000000b1"
	creds := []activities.Credentials{{TenantID: "00000000-0000-4000-8000-0000000000b1", ClientID: "11111111-0000-4000-8000-0000000000b1",
		ClientSecret: "sim-secret-b", AuthMode: activities.AuthAppOnly}}
	if err := sim.SeedTenant(graphsim.TenantSeed{TenantID: creds[0].TenantID, DisplayName: "T", Domain: "b.example",
		Apps: []graphsim.AppSeed{{ClientID: creds[0].ClientID, Secrets: []graphsim.SecretSeed{{Value: creds[0].ClientSecret}}, GrantedRoles: []string{"Mail.ReadBasic.All"}}},
		Users: []graphsim.UserSeed{{ID: user, DisplayName: "U", Mail: "u@b.example", UserPrincipalName: "u@b.example",
			Messages: []graphsim.MessageSeed{{From: "x@b.example", To: []string{"u@b.example"}, Subject: "s", Mentions: []string{"u@b.example"}}}}},
	}); err != nil {
		t.Fatal(err)
	}
	var page struct {
		Context string `json:"@odata.context"`
		Value   []struct {
			ID              string         `json:"id"`
			MentionsPreview map[string]any `json:"mentionsPreview"`
		} `json:"value"`
	}
	err := c.CallBeta(context.Background(), creds[0], user, http.MethodGet,
		"/users/"+user+"/messages?$filter=mentionsPreview/isMentioned%20eq%20true&$select=id,mentionsPreview", nil, &page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.Context, "/beta/$metadata#") || len(page.Value) != 1 || page.Value[0].MentionsPreview["isMentioned"] != true {
		t.Fatalf("beta answer = %+v", page)
	}
	reqs := sim.Requests()
	last := reqs[len(reqs)-1]
	if last.Path != "/beta/users/"+user+"/messages" || last.Status != http.StatusOK {
		t.Fatalf("last request %s %d, want GET /beta/users/%s/messages 200", last.Path, last.Status, user)
	}
	// The same path on v1.0 is refused: mentionsPreview is beta-only.
	err = c.Call(context.Background(), creds[0], user, http.MethodGet, "/users/"+user+"/messages?$select=id,mentionsPreview", nil, nil)
	var ge *activities.GraphError
	if !errors.As(err, &ge) || ge.Kind != activities.KindBadRequest || ge.Status != http.StatusBadRequest {
		t.Fatalf("v1.0 $select=mentionsPreview → %v, want BadRequest 400", err)
	}

	// Allowed hosts: a client that may not send tokens to the simulator's
	// host sends none to /beta either (Graph answers 401).
	other, err := New(Cloud{AuthorityHost: sim.AuthorityHost(), GraphBaseURL: sim.GraphBaseURL(), AllowedHosts: []string{"graph.microsoft.com"}, ExtraCAFile: sim.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	err = other.CallBeta(context.Background(), creds[0], user, http.MethodGet, "/users/"+user+"/messages", nil, nil)
	if !errors.As(err, &ge) || ge.Kind != activities.KindUnauthenticated {
		t.Fatalf("host not allowed → %v, want Unauthenticated (no token sent)", err)
	}
}
