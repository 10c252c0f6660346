package permissions

import (
	"reflect"
	"strings"
	"testing"
)

func need(perm, by string, higher ...string) Need {
	return Need{Requirement: Requirement{Permission: perm, SatisfiedBy: higher}, By: by}
}

func names(ns []Needed) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Permission
	}
	return out
}

func TestMinimalDropsWhatAHigherNeededPermissionCoversAndKeepsWhatNeedsIt(t *testing.T) {
	needs := append(FeatureNeeds([]string{"directory", "mail"}, false),
		need("Mail.ReadWrite", `recipe newsletters: step "file" (move)`),
		need("Mail.Send", `recipe vip-forward: step "fwd" (forward)`),
		need("Mail.Send", `recipe vip-forward: step "fwd" (forward)`))
	got := Minimal(needs)
	if want := []string{"Mail.ReadWrite", "Mail.Send", "User.Read.All"}; !reflect.DeepEqual(names(got), want) {
		t.Fatalf("Minimal = %v, want %v", names(got), want)
	}
	// Mail.ReadWrite serves the mail feature too, which asked only for
	// Mail.ReadBasic.All; the repeated need is listed once.
	if want := []string{"feature mail", `recipe newsletters: step "file" (move)`}; !reflect.DeepEqual(got[0].By, want) {
		t.Errorf("Mail.ReadWrite By = %q, want %q", got[0].By, want)
	}
	if len(got[1].By) != 1 {
		t.Errorf("Mail.Send By = %q, want the recipe once", got[1].By)
	}
}

func TestMinimalFollowsAChainOfCoversAndSurvivesMutualOnes(t *testing.T) {
	chain := Minimal([]Need{need("A", "a", "B"), need("B", "b", "C"), need("C", "c")})
	if len(chain) != 1 || chain[0].Permission != "C" || !reflect.DeepEqual(chain[0].By, []string{"a", "b", "c"}) {
		t.Fatalf("chain A<B<C = %+v, want only C serving a, b and c", chain)
	}
	mutual := Minimal([]Need{need("A", "a", "B"), need("B", "b", "A")})
	if len(mutual) != 1 {
		t.Fatalf("two permissions covering each other = %+v, want exactly one kept", mutual)
	}
}

func TestCompareNamesLackingAndBeyondNeed(t *testing.T) {
	needs := append(FeatureNeeds([]string{"directory", "mail", "mail-send"}, false),
		need("Calendars.ReadWrite", `recipe meeting-request: step "meeting" (createEvent)`))
	granted := []string{"Directory.Read.All", "mail.read", "Mail.Send", "Contacts.Read", "Mail.Send"}
	cmp := Compare(needs, granted)
	if want := []string{"Calendars.ReadWrite"}; !reflect.DeepEqual(cmp.Lacking, want) {
		t.Errorf("Lacking = %v, want %v", cmp.Lacking, want)
	}
	var beyond []string
	for _, e := range cmp.Beyond {
		beyond = append(beyond, e.Permission+": "+e.Reason)
	}
	want := []string{
		"Contacts.Read: not needed by any enabled feature or recipe",
		"Directory.Read.All: more than needed: User.Read.All suffices",
		"mail.read: more than needed: Mail.ReadBasic.All suffices",
	}
	if !reflect.DeepEqual(beyond, want) {
		t.Errorf("Beyond =\n%s\nwant\n%s", strings.Join(beyond, "\n"), strings.Join(want, "\n"))
	}
	for _, n := range cmp.Needed {
		if n.Permission == "User.Read.All" && n.GrantedAs != "Directory.Read.All" {
			t.Errorf("User.Read.All GrantedAs = %q, want the higher Directory.Read.All that satisfies it", n.GrantedAs)
		}
	}
}

func TestCompareKeepsALesserGrantThatServesWhileTheHigherIsLacking(t *testing.T) {
	needs := append(FeatureNeeds([]string{"mail"}, false), need("Mail.ReadWrite", "recipe r"))
	if cmp := Compare(needs, []string{"Mail.ReadBasic.All"}); len(cmp.Beyond) != 0 || !reflect.DeepEqual(cmp.Lacking, []string{"Mail.ReadWrite"}) {
		t.Errorf("with Mail.ReadWrite lacking: beyond %+v lacking %v; Mail.ReadBasic.All still serves the sync", cmp.Beyond, cmp.Lacking)
	}
	cmp := Compare(needs, []string{"Mail.ReadBasic.All", "Mail.ReadWrite"})
	if len(cmp.Lacking) != 0 || len(cmp.Beyond) != 1 || cmp.Beyond[0].Permission != "Mail.ReadBasic.All" {
		t.Errorf("with both granted: lacking %v beyond %+v; want Mail.ReadBasic.All beyond need (Mail.ReadWrite covers it)", cmp.Lacking, cmp.Beyond)
	}
}

func TestCompareOfAnEmptyGrantLacksTheMinimalSetOnly(t *testing.T) {
	cmp := Compare(FeatureNeeds([]string{"mail", "mail-bodies"}, true), nil)
	if want := []string{"Mail.Read"}; !reflect.DeepEqual(cmp.Lacking, want) {
		t.Errorf("Lacking = %v, want %v (Mail.Read covers Mail.ReadBasic)", cmp.Lacking, want)
	}
}

func TestAdminConsentURLUsesTheCloudsAuthorityHost(t *testing.T) {
	for host, want := range map[string]string{
		"https://login.microsoftonline.com/": "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=11111111-2222",
		"https://login.microsoftonline.us":   "https://login.microsoftonline.us/contoso.onmicrosoft.com/adminconsent?client_id=11111111-2222",
	} {
		if got := AdminConsentURL(host, "contoso.onmicrosoft.com", "11111111-2222"); got != want {
			t.Errorf("AdminConsentURL(%s) = %s, want %s", host, got, want)
		}
	}
}
