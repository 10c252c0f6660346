package visibility

import (
	"slices"
	"testing"

	"github.com/outlookflow/outlookflow/domain"
)

// ceo ← vp ← manager ← {ic1, ic2}; peer reports to vp too; loop1 ↔ loop2.
var org = []domain.User{
	{ID: "ceo", UserPrincipalName: "ceo@x.example"},
	{ID: "vp", UserPrincipalName: "vp@x.example", ManagerID: "ceo"},
	{ID: "manager", UserPrincipalName: "manager@x.example", Mail: "boss@x.example", ManagerID: "vp"},
	{ID: "peer", UserPrincipalName: "peer@x.example", ManagerID: "vp"},
	{ID: "ic1", UserPrincipalName: "ic1@x.example", ManagerID: "manager"},
	{ID: "ic2", UserPrincipalName: "ic2@x.example", ManagerID: "manager"},
	{ID: "loop1", UserPrincipalName: "loop1@x.example", ManagerID: "loop2"},
	{ID: "loop2", UserPrincipalName: "loop2@x.example", ManagerID: "loop1"},
}

func TestAManagerSeesTheirReportsAPeerDoesNotAnAdminSeesAll(t *testing.T) {
	for _, tc := range []struct {
		viewer string
		admins []string
		all    bool
		want   []string
	}{
		{"manager@x.example", nil, false, []string{"manager", "ic1", "ic2"}},
		{"BOSS@x.example", nil, false, []string{"manager", "ic1", "ic2"}}, // by mail, any case
		{"vp", nil, false, []string{"vp", "ic1", "ic2", "manager", "peer"}},
		{"peer@x.example", nil, false, []string{"peer"}},
		{"ic1@x.example", nil, false, []string{"ic1"}},
		{"loop1@x.example", nil, false, []string{"loop1", "loop2"}},
		{"peer@x.example", []string{"PEER@x.example"}, true, nil},
	} {
		s, err := For(org, tc.viewer, tc.admins)
		if err != nil {
			t.Fatalf("%s: %v", tc.viewer, err)
		}
		if s.All != tc.all || !slices.Equal(s.Mailboxes, tc.want) {
			t.Errorf("%s sees all=%v %v; want all=%v %v", tc.viewer, s.All, s.Mailboxes, tc.all, tc.want)
		}
	}
	peer, _ := For(org, "peer@x.example", nil)
	if peer.Allows("ic1") || !peer.Allows("peer") {
		t.Error("a peer must see only their own mailbox")
	}
}

func TestAnUnknownViewerSeesNothing(t *testing.T) {
	if _, err := For(org, "stranger@x.example", []string{"stranger@x.example"}); err == nil {
		t.Fatal("an unknown viewer got a scope")
	}
}
