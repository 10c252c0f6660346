// Package storetest is the conformance suite every store driver passes
// unchanged: idempotent pages, removals and moves, a page and its cursor
// committing together or not at all, tenant isolation, attendees replaced
// rather than duplicated, migrations that can run twice and at once, and
// the recipe engine's state: the trigger outbox written with its page,
// reads by ID, runs (and their reads by message key), decisions, switches
// and reply waits; and sealed secrets, their sweep and their re-sealing
// for key rotation.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// Run runs the suite. newConfig must return the configuration of a fresh,
// empty database on every call; the suite opens (and reopens) stores from
// it and closes them when each test ends.
func Run(t *testing.T, newConfig func(t *testing.T) store.Config) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"MigrationsRunTwiceWithoutChange", testMigrationsRunTwice},
		{"ConcurrentOpensOfANewDatabaseBothSucceed", testConcurrentOpen},
		{"UsersPageAppliedTwiceLeavesTheSameRows", testUsersIdempotent},
		{"UsersUpdatesAndRemovalsAreCountedAndListed", testUsersUpdatesAndRemovals},
		{"GroupMembershipChangesAndGroupRemovalTakeMembers", testGroupsAndMembers},
		{"FailedPageSavesNeitherRowsNorCursor", testFailedPageSavesNothing},
		{"InvalidPageIsRefusedBeforeWriting", testInvalidPage},
		{"MessageFieldsRoundTrip", testMessageRoundTrip},
		{"MessageMovedBetweenFoldersSurvivesOldFolderRemoval", testMessageMove},
		{"MessagesPageAppliedTwiceLeavesTheSameRows", testMessagesIdempotent},
		{"DeletedFolderTakesChildrenMessagesAndCursors", testDeleteFolder},
		{"EventAttendeesAreReplacedNotDuplicated", testEventAttendees},
		{"ContactsAndMailboxSettingsRoundTrip", testContactsAndSettings},
		{"TenantsAreIsolated", testTenantIsolation},
		{"ResetCursorStartsOverAndCountsResyncs", testResetCursor},
		{"LargePageIsSavedWholeInPageOrderAndReplaysUnchanged", testLargePage},
		{"SameIDTwiceInAPageCountsOnceAndTheLastOneWins", testSameIDTwice},
		{"DropOtherScopesKeepsOnlyTheCurrentWindow", testDropOtherScopes},
		{"ConcurrentPagesOfNewSizesAllSave", testConcurrentPages},
		{"OutboxHoldsExactlyThePagesChangesWithThePreviousFlag", testOutbox},
		{"OutboxRowsRollBackWithAFailedPage", testOutboxRollsBack},
		{"OutboxOfALargePageIsWholeAndInPageOrder", testOutboxLargePage},
		{"MessagesEventsAndFoldersAreReadByID", testReadsByID},
		{"ConversationMessagesAreStrictlyAfterAndOldestFirst", testConversationMessages},
		{"MessagesSinceAreStrictlyAfterNewestFirstAndBounded", testMessagesSince},
		{"RecipeRunsFirstWriterWinsAndStepOutputsUpsert", testRecipeRuns},
		{"RecipeRunsAreFoundByMessageKeyPerMailbox", testFiredMessageRuns},
		{"RecipeDecisionsUpsertOnItemVersion", testRecipeDecisions},
		{"RecipeSwitchesOverridePerTenant", testRecipeSwitches},
		{"ReplyWaitsAreFoundByConversation", testReplyWaits},
		{"MailboxLeasesHaveOneHolderRenewAndExpire", testMailboxLeases},
		{"SealedSecretsRoundTripReplaceAndDelete", testSealedSecretsRoundTrip},
		{"SealedSecretsSweepByKindAndAge", testSealedSecretsSweep},
		{"SealedSecretsPageForRotationAndResealOnlyUnchangedRows", testSealedSecretsRotation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newConfig(t)
			tc.fn(t, &harness{t: t, cfg: cfg})
		})
	}
}

// harness opens stores from one configuration and closes them at the end.
type harness struct {
	t   *testing.T
	cfg store.Config
}

func (h *harness) open() store.Store {
	h.t.Helper()
	s, err := store.Open(ctx(h.t), h.cfg)
	if err != nil {
		h.t.Fatalf("opening the store: %v", err)
	}
	h.t.Cleanup(func() {
		if err := s.Close(); err != nil {
			h.t.Errorf("closing the store: %v", err)
		}
	})
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// equal fails the test with both values as JSON when they differ.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("%s differs from what was applied\n got: %s\nwant: %s", what, g, w)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// counts checks a page's counts (Changes checked separately where it
// matters).
func counts(t *testing.T, what string, got store.Counts, inserted, updated, unchanged, deleted int) {
	t.Helper()
	if got.Inserted != inserted || got.Updated != updated || got.Unchanged != unchanged || got.Deleted != deleted {
		t.Errorf("%s: counts inserted/updated/unchanged/deleted = %d/%d/%d/%d, want %d/%d/%d/%d",
			what, got.Inserted, got.Updated, got.Unchanged, got.Deleted, inserted, updated, unchanged, deleted)
	}
}

func cursorIs(t *testing.T, s store.Store, key domain.CursorKey, token string, complete bool, resyncs int) {
	t.Helper()
	c, found, err := s.Cursor(ctx(t), key)
	if err != nil {
		t.Fatalf("reading cursor %s: %v", key, err)
	}
	if !found {
		t.Fatalf("cursor %s was not saved", key)
	}
	if c.Token != token || c.Complete != complete || c.Resyncs != resyncs {
		t.Errorf("cursor %s = token %q complete %v resyncs %d, want %q %v %d", key, c.Token, c.Complete, c.Resyncs, token, complete, resyncs)
	}
	if c.UpdatedAt.IsZero() {
		t.Errorf("cursor %s has no UpdatedAt", key)
	}
}

const tenantA, tenantB = "contoso", "fabrikam"

var base = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func users() []domain.User {
	return []domain.User{
		{ID: "u-ceo", UserPrincipalName: "ceo@contoso.com", Mail: "ceo@contoso.com", DisplayName: "Chief", JobTitle: "CEO", AccountEnabled: true, HasMailbox: true},
		{ID: "u-mgr", UserPrincipalName: "mgr@contoso.com", Mail: "mgr@contoso.com", DisplayName: "Manager", Department: "Sales", ManagerID: "u-ceo", AccountEnabled: true, HasMailbox: true},
		{ID: "u-rep", UserPrincipalName: "rep@contoso.com", DisplayName: "Rep", ManagerID: "u-mgr", AccountEnabled: false},
	}
}

func testMigrationsRunTwice(t *testing.T, h *harness) {
	s := h.open()
	must[store.Counts](t, "applying users")(s.ApplyUsers(ctx(t), store.UsersPage{Tenant: tenantA, Upserts: users(), Next: store.Next{Token: "d1", Complete: true}}))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Open applies migrations again: goose finds them recorded and the data
	// stays.
	again := h.open()
	equal(t, "users after reopening", must[[]domain.User](t, "listing users")(again.Users(ctx(t), tenantA)), users())
	third := h.open()
	if n := must[int](t, "counting")(third.Count(ctx(t), tenantA, "", domain.KindUser)); n != 3 {
		t.Errorf("a third open sees %d users, want 3", n)
	}
}

func testConcurrentOpen(t *testing.T, h *harness) {
	const opens = 3
	stores := make([]store.Store, opens)
	errs := make([]error, opens)
	var wg sync.WaitGroup
	for i := range opens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = store.Open(ctx(t), h.cfg)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d of %d at the same time failed: %v", i+1, opens, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	for i, s := range stores {
		page := store.UsersPage{Tenant: tenantA, Upserts: users()[i : i+1], Next: store.Next{Token: "d"}}
		must[store.Counts](t, "applying users through each store")(s.ApplyUsers(ctx(t), page))
	}
	equal(t, "users written through concurrently opened stores", must[[]domain.User](t, "listing")(stores[0].Users(ctx(t), tenantA)), users())
}

func testUsersIdempotent(t *testing.T, h *harness) {
	s := h.open()
	page := store.UsersPage{Tenant: tenantA, Upserts: users(), Next: store.Next{Token: "https://graph/users/delta?$deltatoken=1", Complete: true}}
	first := must[store.Counts](t, "first apply")(s.ApplyUsers(ctx(t), page))
	counts(t, "first apply", first, 3, 0, 0, 0)
	equal(t, "changes of the first apply", first.Changes, []domain.Change{
		{Kind: domain.KindUser, ItemID: "u-ceo", Type: domain.ChangeCreated},
		{Kind: domain.KindUser, ItemID: "u-mgr", Type: domain.ChangeCreated},
		{Kind: domain.KindUser, ItemID: "u-rep", Type: domain.ChangeCreated},
	})
	second := must[store.Counts](t, "second apply")(s.ApplyUsers(ctx(t), page))
	counts(t, "the same page again", second, 0, 0, 3, 0)
	if len(second.Changes) != 0 {
		t.Errorf("replaying a page reported changes %+v; a replay must fire nothing", second.Changes)
	}
	equal(t, "users", must[[]domain.User](t, "listing users")(s.Users(ctx(t), tenantA)), users())
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Kind: domain.CursorUsers}, page.Next.Token, true, 0)
}

func testUsersUpdatesAndRemovals(t *testing.T, h *harness) {
	s := h.open()
	must[store.Counts](t, "initial page")(s.ApplyUsers(ctx(t), store.UsersPage{Tenant: tenantA, Upserts: users(), Next: store.Next{Token: "n1"}}))
	want := users()
	want[2].ManagerID = "u-ceo" // the rep now reports to the CEO
	got := must[store.Counts](t, "second page")(s.ApplyUsers(ctx(t), store.UsersPage{
		Tenant:  tenantA,
		Upserts: []domain.User{want[2], want[0]},
		Removed: []string{"u-mgr", "u-never-stored"},
		Next:    store.Next{Token: "d2", Complete: true},
	}))
	counts(t, "second page", got, 0, 1, 1, 1)
	equal(t, "changes", got.Changes, []domain.Change{
		{Kind: domain.KindUser, ItemID: "u-rep", Type: domain.ChangeUpdated},
		{Kind: domain.KindUser, ItemID: "u-mgr", Type: domain.ChangeDeleted},
	})
	equal(t, "users", must[[]domain.User](t, "listing")(s.Users(ctx(t), tenantA)), []domain.User{want[0], want[2]})
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Kind: domain.CursorUsers}, "d2", true, 0)
}

func groups() []domain.Group {
	return []domain.Group{
		{ID: "g-sales", DisplayName: "Sales", Mail: "sales@contoso.com", MailEnabled: true, GroupTypes: []string{"Unified"}},
		{ID: "g-sec", DisplayName: "Admins", SecurityEnabled: true},
	}
}

func testGroupsAndMembers(t *testing.T, h *harness) {
	s := h.open()
	first := must[store.Counts](t, "groups page")(s.ApplyGroups(ctx(t), store.GroupsPage{
		Tenant:  tenantA,
		Upserts: groups(),
		MembersAdded: []domain.GroupMember{
			{GroupID: "g-sales", MemberID: "u-mgr", MemberType: domain.MemberUser},
			{GroupID: "g-sales", MemberID: "u-rep", MemberType: domain.MemberUser},
			{GroupID: "g-sec", MemberID: "g-sales", MemberType: domain.MemberGroup},
		},
		Next: store.Next{Token: "d1", Complete: true},
	}))
	counts(t, "first groups page", first, 2, 0, 0, 0)
	equal(t, "groups", must[[]domain.Group](t, "listing groups")(s.Groups(ctx(t), tenantA)), groups())
	if !groups()[0].IsMicrosoft365() || groups()[1].IsMicrosoft365() {
		t.Errorf("IsMicrosoft365 must be true only for Unified groups")
	}
	// A membership change alone is an update of its group; adding a
	// member twice is not a change.
	second := must[store.Counts](t, "membership page")(s.ApplyGroups(ctx(t), store.GroupsPage{
		Tenant:         tenantA,
		MembersAdded:   []domain.GroupMember{{GroupID: "g-sales", MemberID: "u-mgr", MemberType: domain.MemberUser}},
		MembersRemoved: []domain.GroupMember{{GroupID: "g-sales", MemberID: "u-rep"}},
		Next:           store.Next{Token: "d2", Complete: true},
	}))
	counts(t, "membership page", second, 0, 1, 0, 0)
	equal(t, "changes of the membership page", second.Changes, []domain.Change{{Kind: domain.KindGroup, ItemID: "g-sales", Type: domain.ChangeUpdated}})
	equal(t, "members", must[[]domain.GroupMember](t, "listing members")(s.GroupMembers(ctx(t), tenantA)), []domain.GroupMember{
		{GroupID: "g-sales", MemberID: "u-mgr", MemberType: domain.MemberUser},
		{GroupID: "g-sec", MemberID: "g-sales", MemberType: domain.MemberGroup},
	})
	third := must[store.Counts](t, "removal page")(s.ApplyGroups(ctx(t), store.GroupsPage{Tenant: tenantA, Removed: []string{"g-sales"}, Next: store.Next{Token: "d3", Complete: true}}))
	counts(t, "removal page", third, 0, 0, 0, 1)
	equal(t, "groups after removal", must[[]domain.Group](t, "listing")(s.Groups(ctx(t), tenantA)), groups()[1:])
	// The removed group's own members went with it; its membership in
	// another group is a row of that group and stays until Graph says so.
	equal(t, "members after removal", must[[]domain.GroupMember](t, "listing")(s.GroupMembers(ctx(t), tenantA)), []domain.GroupMember{
		{GroupID: "g-sec", MemberID: "g-sales", MemberType: domain.MemberGroup},
	})
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Kind: domain.CursorGroups}, "d3", true, 0)
}

func testFailedPageSavesNothing(t *testing.T, h *harness) {
	s := h.open()
	key := domain.CursorKey{Tenant: tenantA, Kind: domain.CursorGroups}
	must[store.Counts](t, "first page")(s.ApplyGroups(ctx(t), store.GroupsPage{Tenant: tenantA, Upserts: groups()[:1], Next: store.Next{Token: "good"}}))

	// The second page writes a new group, changes the first, adds a valid
	// membership, then fails on a membership of a group that exists
	// nowhere: everything before the failure must roll back with it.
	changed := groups()[0]
	changed.DisplayName = "Sales (renamed)"
	_, err := s.ApplyGroups(ctx(t), store.GroupsPage{
		Tenant:  tenantA,
		Upserts: []domain.Group{changed, groups()[1]},
		MembersAdded: []domain.GroupMember{
			{GroupID: "g-sales", MemberID: "u-mgr", MemberType: domain.MemberUser},
			{GroupID: "g-missing", MemberID: "u-rep", MemberType: domain.MemberUser},
		},
		Next: store.Next{Token: "past-the-failure"},
	})
	if err == nil {
		t.Fatal("a page with a membership of an unknown group succeeded; it must fail")
	}
	if !strings.Contains(err.Error(), "g-missing") {
		t.Errorf("the error does not name the group that broke the page: %v", err)
	}
	equal(t, "groups after the failed page", must[[]domain.Group](t, "listing")(s.Groups(ctx(t), tenantA)), groups()[:1])
	equal(t, "members after the failed page", must[[]domain.GroupMember](t, "listing")(s.GroupMembers(ctx(t), tenantA)), []domain.GroupMember(nil))
	cursorIs(t, s, key, "good", false, 0)

	// A cancelled context (the activity timed out, the worker is shutting
	// down) saves nothing either.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ApplyUsers(cancelled, store.UsersPage{Tenant: tenantA, Upserts: users(), Next: store.Next{Token: "u1"}}); err == nil {
		t.Fatal("applying a page with a cancelled context succeeded")
	}
	if n := must[int](t, "counting users")(s.Count(ctx(t), tenantA, "", domain.KindUser)); n != 0 {
		t.Errorf("%d users saved by a cancelled page, want 0", n)
	}
	if _, found, _ := s.Cursor(ctx(t), domain.CursorKey{Tenant: tenantA, Kind: domain.CursorUsers}); found {
		t.Error("a cancelled page saved its cursor")
	}

	// Messages for a folder that was never saved fail the page; the
	// cursor stays where it was.
	mbox := "u-mgr"
	folders(t, s, tenantA, mbox, "d-f", folder(mbox, "inbox", "", domain.FolderInbox))
	must[store.Counts](t, "inbox page")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
		Upserts: []domain.Message{message(mbox, "inbox", "m1")}, Next: store.Next{Token: "inbox-1"}}))
	_, err = s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "no-such-folder",
		Upserts: []domain.Message{message(mbox, "", "m2")}, Next: store.Next{Token: "x"}})
	if err == nil || !strings.Contains(err.Error(), "no-such-folder") {
		t.Errorf("messages for an unknown folder: err = %v, want an error naming the folder", err)
	}
	if _, found, _ := s.Cursor(ctx(t), domain.CursorKey{Tenant: tenantA, Mailbox: mbox, Kind: domain.CursorMessages, Scope: "no-such-folder"}); found {
		t.Error("a failed messages page saved its cursor")
	}
	equal(t, "messages after the failed page", must[[]domain.Message](t, "listing")(s.Messages(ctx(t), store.MessageQuery{Tenant: tenantA})),
		[]domain.Message{message(mbox, "inbox", "m1")})
}

func testInvalidPage(t *testing.T, h *harness) {
	s := h.open()
	cases := map[string]func() error{
		"no next token": func() error {
			_, err := s.ApplyUsers(ctx(t), store.UsersPage{Tenant: tenantA, Upserts: users()})
			return err
		},
		"no tenant": func() error {
			_, err := s.ApplyUsers(ctx(t), store.UsersPage{Upserts: users(), Next: store.Next{Token: "x"}})
			return err
		},
		"an upsert without ID": func() error {
			_, err := s.ApplyContacts(ctx(t), store.ContactsPage{Tenant: tenantA, Mailbox: "m", Upserts: []domain.Contact{{DisplayName: "x"}}, Next: store.Next{Token: "x"}})
			return err
		},
		"a message of another mailbox": func() error {
			_, err := s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: "m", FolderID: "f",
				Upserts: []domain.Message{message("other", "f", "m1")}, Next: store.Next{Token: "x"}})
			return err
		},
	}
	for name, apply := range cases {
		if err := apply(); !errors.Is(err, store.ErrInvalidPage) {
			t.Errorf("%s: err = %v, want ErrInvalidPage", name, err)
		}
	}
	if tenants := must[[]string](t, "listing tenants")(s.Tenants(ctx(t))); len(tenants) != 0 {
		t.Errorf("refused pages created tenants %v", tenants)
	}
}

func folder(mailbox, id, parent, wellKnown string) domain.MailFolder {
	return domain.MailFolder{ID: id, Mailbox: mailbox, ParentFolderID: parent, DisplayName: strings.ToUpper(id), WellKnownName: wellKnown, TotalItemCount: 2, UnreadItemCount: 1}
}

func folders(t *testing.T, s store.Store, tenant, mailbox, token string, fs ...domain.MailFolder) store.Counts {
	t.Helper()
	return must[store.Counts](t, "applying folders")(s.ApplyFolders(ctx(t), store.FoldersPage{Tenant: tenant, Mailbox: mailbox, Upserts: fs, Next: store.Next{Token: token, Complete: true}}))
}

// message is a metadata-only message with every list and time filled.
func message(mailbox, folderID, id string) domain.Message {
	return domain.Message{
		ID: id, Mailbox: mailbox, FolderID: folderID,
		ConversationID: "conv-" + id, InternetMessageID: "<" + id + "@contoso.com>",
		From:       domain.EmailAddress{Name: "Ann", Address: "ann@contoso.com"},
		Sender:     domain.EmailAddress{Name: "Assistant", Address: "assistant@contoso.com"},
		To:         []domain.EmailAddress{{Name: "Bob", Address: "bob@contoso.com"}, {Address: "list@contoso.com"}},
		Cc:         []domain.EmailAddress{{Name: "Cy", Address: "cy@fabrikam.com"}},
		Subject:    "Quarterly numbers " + id,
		ReceivedAt: base, SentAt: base.Add(-time.Minute),
		Importance: domain.ImportanceHigh, IsRead: false,
		Flag:           domain.Flag{Status: domain.FlagFlagged, DueAt: base.Add(48 * time.Hour)},
		Categories:     []string{"Red category", "Finance"},
		HasAttachments: true,
	}
}

func testMessageRoundTrip(t *testing.T, h *harness) {
	s := h.open()
	mbox := "u-mgr"
	folders(t, s, tenantA, mbox, "f1", folder(mbox, "inbox", "root", domain.FolderInbox))
	full := message(mbox, "inbox", "m-full")
	// Times in another zone and below a microsecond come back as the same
	// instant in UTC, to the microsecond.
	paris := time.FixedZone("CET", 3600)
	full.ReceivedAt = time.Date(2025, 3, 14, 10, 26, 53, 123456789, paris)
	full.Flag = domain.Flag{Status: domain.FlagComplete, DueAt: base, CompletedAt: base.Add(time.Hour)}
	full.Bcc = []domain.EmailAddress{{Address: "audit@contoso.com"}}
	full.IsRead, full.IsDraft = true, true
	full.Body = &domain.MessageBody{ContentType: "html", Content: "<p>Héllo ✓</p>"}
	bare := domain.Message{ID: "m-bare", Subject: ""}
	c := must[store.Counts](t, "applying")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
		Upserts: []domain.Message{full, bare}, Next: store.Next{Token: "d1", Complete: true}}))
	counts(t, "messages", c, 2, 0, 0, 0)

	wantFull := full
	wantFull.ReceivedAt = time.Date(2025, 3, 14, 9, 26, 53, 123456000, time.UTC)
	wantBare := bare
	wantBare.Mailbox, wantBare.FolderID = mbox, "inbox"
	equal(t, "messages", must[[]domain.Message](t, "listing")(s.Messages(ctx(t), store.MessageQuery{Tenant: tenantA, Mailbox: mbox})), []domain.Message{wantBare, wantFull})
	// Applying what was read back changes nothing: reads and writes agree.
	again := must[store.Counts](t, "reapplying")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
		Upserts: []domain.Message{wantFull, wantBare}, Next: store.Next{Token: "d1", Complete: true}}))
	counts(t, "reapplying what was read", again, 0, 0, 2, 0)
	if n := must[int](t, "counting")(s.Count(ctx(t), tenantA, mbox, domain.KindMessage)); n != 2 {
		t.Errorf("Count = %d messages, want 2", n)
	}
}

func testMessageMove(t *testing.T, h *harness) {
	s := h.open()
	mbox := "u-rep"
	folders(t, s, tenantA, mbox, "f1", folder(mbox, "inbox", "", domain.FolderInbox), folder(mbox, "archive", "", domain.FolderArchive))
	must[store.Counts](t, "inbox")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
		Upserts: []domain.Message{message(mbox, "inbox", "m1"), message(mbox, "inbox", "m2")}, Next: store.Next{Token: "i1", Complete: true}}))

	// Graph reports a move as an add in the new folder and a removal from
	// the old one, in whichever order the sync reaches the folders.
	moved := must[store.Counts](t, "archive")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "archive",
		Upserts: []domain.Message{message(mbox, "archive", "m1")}, Next: store.Next{Token: "a1", Complete: true}}))
	counts(t, "the move", moved, 0, 1, 0, 0)
	equal(t, "changes of the move", moved.Changes, []domain.Change{{Kind: domain.KindMessage, Mailbox: mbox, ItemID: "m1", Type: domain.ChangeUpdated}})
	removed := must[store.Counts](t, "inbox removals")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
		Removed: []string{"m1", "m2"}, Next: store.Next{Token: "i2", Complete: true}}))
	counts(t, "the old folder's removals", removed, 0, 0, 0, 1)
	equal(t, "changes of the removals", removed.Changes, []domain.Change{{Kind: domain.KindMessage, Mailbox: mbox, ItemID: "m2", Type: domain.ChangeDeleted}})
	equal(t, "messages", must[[]domain.Message](t, "listing")(s.Messages(ctx(t), store.MessageQuery{Tenant: tenantA})), []domain.Message{message(mbox, "archive", "m1")})
	equal(t, "archive", must[[]domain.Message](t, "listing archive")(s.Messages(ctx(t), store.MessageQuery{Tenant: tenantA, Mailbox: mbox, FolderID: "archive"})), []domain.Message{message(mbox, "archive", "m1")})
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Mailbox: mbox, Kind: domain.CursorMessages, Scope: "inbox"}, "i2", true, 0)
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Mailbox: mbox, Kind: domain.CursorMessages, Scope: "archive"}, "a1", true, 0)
}

func testMessagesIdempotent(t *testing.T, h *harness) {
	s := h.open()
	mbox := "u-ceo"
	folders(t, s, tenantA, mbox, "f1", folder(mbox, "inbox", "", domain.FolderInbox))
	var page []domain.Message
	for _, id := range []string{"a", "b", "c", "d"} {
		page = append(page, message(mbox, "inbox", id))
	}
	apply := func(token string, upserts []domain.Message, removed []string) store.Counts {
		return must[store.Counts](t, "applying "+token)(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
			Upserts: upserts, Removed: removed, Next: store.Next{Token: token}}))
	}
	counts(t, "first", apply("p1", page, nil), 4, 0, 0, 0)
	counts(t, "replay", apply("p1", page, nil), 0, 0, 4, 0)
	read := page[1]
	read.IsRead, read.Categories = true, nil
	page2 := []domain.Message{read}
	counts(t, "read and uncategorised", apply("p2", page2, []string{"c"}), 0, 1, 0, 1)
	counts(t, "second page replayed", apply("p2", page2, []string{"c"}), 0, 0, 1, 0)
	equal(t, "messages", must[[]domain.Message](t, "listing")(s.Messages(ctx(t), store.MessageQuery{Tenant: tenantA, Mailbox: mbox})),
		[]domain.Message{page[0], read, page[3]})
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Mailbox: mbox, Kind: domain.CursorMessages, Scope: "inbox"}, "p2", false, 0)
}

func testDeleteFolder(t *testing.T, h *harness) {
	s := h.open()
	mbox := "u-mgr"
	folders(t, s, tenantA, mbox, "f1",
		folder(mbox, "inbox", "", domain.FolderInbox),
		folder(mbox, "projects", "inbox", ""),
		folder(mbox, "projects-2024", "projects", ""),
		folder(mbox, "sent", "", domain.FolderSentItems))
	for _, f := range []string{"projects", "projects-2024", "sent"} {
		must[store.Counts](t, "messages of "+f)(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: f,
			Upserts: []domain.Message{message(mbox, f, "m-"+f)}, Next: store.Next{Token: "t-" + f}}))
	}
	// Removed through the folder delta: the folder, its child, both
	// messages and both message cursors go; Sent Items stays.
	got := must[store.Counts](t, "removing projects")(s.ApplyFolders(ctx(t), store.FoldersPage{Tenant: tenantA, Mailbox: mbox, Removed: []string{"projects"}, Next: store.Next{Token: "f2", Complete: true}}))
	if got.Deleted != 4 {
		t.Errorf("removing a folder with a child and two messages deleted %d items, want 4", got.Deleted)
	}
	kinds := map[domain.ItemKind]int{}
	for _, c := range got.Changes {
		kinds[c.Kind]++
	}
	equal(t, "deleted items by kind", kinds, map[domain.ItemKind]int{domain.KindMailFolder: 2, domain.KindMessage: 2})
	equal(t, "folders", must[[]domain.MailFolder](t, "listing")(s.Folders(ctx(t), tenantA, mbox)),
		[]domain.MailFolder{folder(mbox, "inbox", "", domain.FolderInbox), folder(mbox, "sent", "", domain.FolderSentItems)})
	equal(t, "messages", must[[]domain.Message](t, "listing")(s.Messages(ctx(t), store.MessageQuery{Tenant: tenantA})), []domain.Message{message(mbox, "sent", "m-sent")})
	var scopes []string
	for _, c := range must[[]domain.Cursor](t, "listing cursors")(s.Cursors(ctx(t), tenantA)) {
		scopes = append(scopes, string(c.Kind)+":"+c.Scope)
	}
	equal(t, "cursors left", scopes, []string{"folders:", "messages:sent"})

	// DeleteFolder, for a resync that finds a folder gone, does the same.
	got = must[store.Counts](t, "DeleteFolder")(s.DeleteFolder(ctx(t), tenantA, mbox, "sent"))
	counts(t, "DeleteFolder", got, 0, 0, 0, 2)
	if n := must[int](t, "counting")(s.Count(ctx(t), tenantA, mbox, domain.KindMessage)); n != 0 {
		t.Errorf("%d messages left after deleting their folders, want 0", n)
	}
}

func event(mailbox, id string, attendees ...domain.Attendee) domain.Event {
	return domain.Event{
		ID: id, Mailbox: mailbox, Subject: "Pipeline review",
		Start: base.Add(24 * time.Hour), StartTimeZone: "Pacific Standard Time",
		End: base.Add(25 * time.Hour), EndTimeZone: "Pacific Standard Time",
		Organizer: domain.EmailAddress{Name: "Manager", Address: "mgr@contoso.com"},
		Attendees: attendees, Location: "Room 1",
		IsOnlineMeeting: true, OnlineMeetingJoinURL: "https://teams.microsoft.com/l/meetup-join/1",
		Type: domain.EventOccurrence, SeriesMasterID: "series-1", LastModifiedAt: base,
	}
}

func attendee(addr string, response domain.ResponseStatus) domain.Attendee {
	a := domain.Attendee{EmailAddress: domain.EmailAddress{Name: strings.Split(addr, "@")[0], Address: addr}, Type: domain.AttendeeRequired, Response: response}
	if response != domain.ResponseNone {
		a.RespondedAt = base.Add(time.Hour)
	}
	return a
}

func testEventAttendees(t *testing.T, h *harness) {
	s := h.open()
	mbox := "u-mgr"
	window := "P30D/P180D"
	apply := func(token string, upserts []domain.Event, removed []string) store.Counts {
		return must[store.Counts](t, "applying events "+token)(s.ApplyEvents(ctx(t), store.EventsPage{Tenant: tenantA, Mailbox: mbox, Window: window,
			Upserts: upserts, Removed: removed, Next: store.Next{Token: token, Complete: true}}))
	}
	first := event(mbox, "e1", attendee("a@contoso.com", domain.ResponseNone), attendee("b@contoso.com", domain.ResponseAccepted), attendee("room@contoso.com", domain.ResponseAccepted))
	first.Attendees[2].Type = domain.AttendeeResource
	master := event(mbox, "series-1")
	master.Type, master.SeriesMasterID = domain.EventSeriesMaster, ""
	counts(t, "first", apply("d1", []domain.Event{first, master}, nil), 2, 0, 0, 0)
	counts(t, "replayed", apply("d1", []domain.Event{first, master}, nil), 0, 0, 2, 0)
	equal(t, "events after a replay", must[[]domain.Event](t, "listing")(s.Events(ctx(t), tenantA, mbox)), []domain.Event{first, master})

	// A declined invitation and a dropped attendee: the list is replaced.
	second := event(mbox, "e1", attendee("a@contoso.com", domain.ResponseDeclined), attendee("b@contoso.com", domain.ResponseAccepted))
	second.IsCancelled = true
	counts(t, "attendees changed", apply("d2", []domain.Event{second}, nil), 0, 1, 0, 0)
	equal(t, "events after the change", must[[]domain.Event](t, "listing")(s.Events(ctx(t), tenantA, mbox)), []domain.Event{second, master})

	counts(t, "removed", apply("d3", nil, []string{"e1"}), 0, 0, 0, 1)
	equal(t, "events after the removal", must[[]domain.Event](t, "listing")(s.Events(ctx(t), tenantA, "")), []domain.Event{master})
	// The removed event's attendees went with it: reinserting it without
	// attendees must not bring them back.
	bare := event(mbox, "e1")
	apply("d4", []domain.Event{bare}, nil)
	equal(t, "a re-added event", must[[]domain.Event](t, "listing")(s.Events(ctx(t), tenantA, mbox)), []domain.Event{bare, master})
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Mailbox: mbox, Kind: domain.CursorEvents, Scope: window}, "d4", true, 0)
}

func testContactsAndSettings(t *testing.T, h *harness) {
	s := h.open()
	mbox := "u-rep"
	contacts := []domain.Contact{
		{ID: "c1", Mailbox: mbox, DisplayName: "Dana", CompanyName: "Fabrikam", JobTitle: "Buyer",
			EmailAddresses: []domain.EmailAddress{{Name: "Dana", Address: "dana@fabrikam.com"}},
			Phones:         []domain.Phone{{Type: domain.PhoneMobile, Number: "+1 555 0100"}, {Type: domain.PhoneBusiness, Number: "+1 555 0101"}}},
		{ID: "c2", Mailbox: mbox, DisplayName: "Eli"},
	}
	c := must[store.Counts](t, "contacts")(s.ApplyContacts(ctx(t), store.ContactsPage{Tenant: tenantA, Mailbox: mbox, Upserts: contacts, Next: store.Next{Token: "c1", Complete: true}}))
	counts(t, "contacts", c, 2, 0, 0, 0)
	c = must[store.Counts](t, "contacts removal")(s.ApplyContacts(ctx(t), store.ContactsPage{Tenant: tenantA, Mailbox: mbox, Upserts: contacts[:1], Removed: []string{"c2"}, Next: store.Next{Token: "c2", Complete: true}}))
	counts(t, "contacts removal", c, 0, 0, 1, 1)
	equal(t, "contacts", must[[]domain.Contact](t, "listing")(s.Contacts(ctx(t), tenantA, mbox)), contacts[:1])
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Mailbox: mbox, Kind: domain.CursorContacts}, "c2", true, 0)

	settings := domain.MailboxSettings{
		Mailbox: mbox, TimeZone: "W. Europe Standard Time",
		WorkingHours: domain.WorkingHours{Days: []string{"monday", "tuesday", "wednesday"}, StartTime: "08:30:00", EndTime: "17:00:00", TimeZone: "W. Europe Standard Time"},
		AutomaticReplies: domain.AutomaticReplies{Status: domain.AutoRepliesScheduled, ExternalAudience: "contactsOnly",
			ScheduledStart: base, ScheduledEnd: base.Add(7 * 24 * time.Hour)},
	}
	if _, found, err := s.MailboxSettings(ctx(t), tenantA, mbox); err != nil || found {
		t.Fatalf("settings before any were applied: found %v, err %v; want not found", found, err)
	}
	c = must[store.Counts](t, "settings")(s.ApplyMailboxSettings(ctx(t), tenantA, settings))
	counts(t, "settings", c, 1, 0, 0, 0)
	c = must[store.Counts](t, "settings again")(s.ApplyMailboxSettings(ctx(t), tenantA, settings))
	counts(t, "settings again", c, 0, 0, 1, 0)
	settings.AutomaticReplies = domain.AutomaticReplies{Status: domain.AutoRepliesDisabled, ExternalAudience: "none"}
	c = must[store.Counts](t, "settings changed")(s.ApplyMailboxSettings(ctx(t), tenantA, settings))
	counts(t, "settings changed", c, 0, 1, 0, 0)
	got, found, err := s.MailboxSettings(ctx(t), tenantA, mbox)
	if err != nil || !found {
		t.Fatalf("reading settings: found %v, err %v", found, err)
	}
	equal(t, "mailbox settings", got, settings)
}

func testTenantIsolation(t *testing.T, h *harness) {
	s := h.open()
	// The same Graph IDs in two tenants are different rows.
	other := users()
	for i := range other {
		other[i].DisplayName += " (Fabrikam)"
	}
	must[store.Counts](t, "tenant A users")(s.ApplyUsers(ctx(t), store.UsersPage{Tenant: tenantA, Upserts: users(), Next: store.Next{Token: "a1"}}))
	c := must[store.Counts](t, "tenant B users")(s.ApplyUsers(ctx(t), store.UsersPage{Tenant: tenantB, Upserts: other, Next: store.Next{Token: "b1"}}))
	counts(t, "the same IDs in another tenant", c, 3, 0, 0, 0)
	must[store.Counts](t, "tenant B removal")(s.ApplyUsers(ctx(t), store.UsersPage{Tenant: tenantB, Removed: []string{"u-ceo"}, Next: store.Next{Token: "b2"}}))
	equal(t, "tenant A users", must[[]domain.User](t, "listing A")(s.Users(ctx(t), tenantA)), users())
	equal(t, "tenant B users", must[[]domain.User](t, "listing B")(s.Users(ctx(t), tenantB)), other[1:])

	mbox := "u-mgr" // the same mailbox ID in both tenants
	for _, tenant := range []string{tenantA, tenantB} {
		folders(t, s, tenant, mbox, "f-"+tenant, folder(mbox, "inbox", "", domain.FolderInbox))
		must[store.Counts](t, "messages")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenant, Mailbox: mbox, FolderID: "inbox",
			Upserts: []domain.Message{message(mbox, "inbox", "m1")}, Next: store.Next{Token: "m-" + tenant}}))
	}
	must[store.Counts](t, "delete in B")(s.DeleteFolder(ctx(t), tenantB, mbox, "inbox"))
	if n := must[int](t, "count A")(s.Count(ctx(t), tenantA, mbox, domain.KindMessage)); n != 1 {
		t.Errorf("tenant A has %d messages after tenant B deleted its folder, want 1", n)
	}
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Mailbox: mbox, Kind: domain.CursorMessages, Scope: "inbox"}, "m-"+tenantA, false, 0)
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Kind: domain.CursorUsers}, "a1", false, 0)
	cursorIs(t, s, domain.CursorKey{Tenant: tenantB, Kind: domain.CursorUsers}, "b2", false, 0)
	equal(t, "tenants", must[[]string](t, "listing tenants")(s.Tenants(ctx(t))), []string{tenantA, tenantB})
	if _, err := s.Count(ctx(t), tenantA, mbox, domain.KindUser); err == nil {
		t.Error("counting users of one mailbox succeeded; users are tenant-wide and the call must say so")
	}
}

func testResetCursor(t *testing.T, h *harness) {
	s := h.open()
	mbox := "u-ceo"
	key := domain.CursorKey{Tenant: tenantA, Mailbox: mbox, Kind: domain.CursorMessages, Scope: "inbox"}
	folders(t, s, tenantA, mbox, "f1", folder(mbox, "inbox", "", domain.FolderInbox))
	page := store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox", Upserts: []domain.Message{message(mbox, "inbox", "m1")}, Next: store.Next{Token: "delta-1", Complete: true}}
	must[store.Counts](t, "first round")(s.ApplyMessages(ctx(t), page))
	if err := s.ResetCursor(ctx(t), key); err != nil {
		t.Fatal(err)
	}
	cursorIs(t, s, key, "", false, 1)
	// A page of the round after the reset is saved as part of a
	// from-scratch round; its last page clears the mark.
	page.Next = store.Next{Token: "next-1", FromScratch: true}
	must[store.Counts](t, "first page after reset")(s.ApplyMessages(ctx(t), page))
	if c, _, err := s.Cursor(ctx(t), key); err != nil || c.Token != "next-1" || c.Complete || !c.FromScratch {
		t.Fatalf("cursor after a from-scratch page: %+v, %v; want next-1 marked from scratch", c, err)
	}
	// The full round after a reset finds the rows already there.
	page.Next = store.Next{Token: "delta-2", Complete: true, FromScratch: true}
	again := must[store.Counts](t, "round after reset")(s.ApplyMessages(ctx(t), page))
	counts(t, "round after reset", again, 0, 0, 1, 0)
	cursorIs(t, s, key, "delta-2", true, 1)
	if c, _, _ := s.Cursor(ctx(t), key); c.FromScratch {
		t.Fatalf("a complete cursor is marked from scratch: %+v", c)
	}
	if err := s.ResetCursor(ctx(t), key); err != nil {
		t.Fatal(err)
	}
	cursorIs(t, s, key, "", false, 2)
	// Resetting a cursor that was never saved records the resync too.
	fresh := domain.CursorKey{Tenant: tenantB, Kind: domain.CursorUsers}
	if err := s.ResetCursor(ctx(t), fresh); err != nil {
		t.Fatal(err)
	}
	cursorIs(t, s, fresh, "", false, 1)
}

func testDropOtherScopes(t *testing.T, h *harness) {
	s := h.open()
	mbox, other := "u-ceo", "u-cfo"
	window := func(mailbox, scope string) domain.CursorKey {
		return domain.CursorKey{Tenant: tenantA, Mailbox: mailbox, Kind: domain.CursorEvents, Scope: scope}
	}
	for _, k := range []domain.CursorKey{window(mbox, "w1"), window(mbox, "w2"), window(mbox, "w3"), window(other, "w1")} {
		must[store.Counts](t, "events page")(s.ApplyEvents(ctx(t), store.EventsPage{Tenant: k.Tenant, Mailbox: k.Mailbox, Window: k.Scope,
			Next: store.Next{Token: "delta-" + k.Scope, Complete: true}}))
	}
	must[store.Counts](t, "contacts page")(s.ApplyContacts(ctx(t), store.ContactsPage{Tenant: tenantA, Mailbox: mbox,
		Next: store.Next{Token: "contacts-delta", Complete: true}}))
	if n := must[int](t, "dropping")(s.DropOtherScopes(ctx(t), window(mbox, "w3"))); n != 2 {
		t.Errorf("dropped %d cursors, want the 2 older windows of %s", n, mbox)
	}
	cursorIs(t, s, window(mbox, "w3"), "delta-w3", true, 0)
	cursorIs(t, s, window(other, "w1"), "delta-w1", true, 0)
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Mailbox: mbox, Kind: domain.CursorContacts}, "contacts-delta", true, 0)
	if _, found, err := s.Cursor(ctx(t), window(mbox, "w1")); err != nil || found {
		t.Errorf("window w1 of %s is still there (err %v)", mbox, err)
	}
}

// Pages of sizes the store has not written before, applied at once: the
// statements a new size needs are prepared while other pages hold the
// write connection (SQLite has one), and none may wait on another.
func testConcurrentPages(t *testing.T, h *harness) {
	s := h.open()
	const writers = 6
	for i := range writers {
		folders(t, s, tenantA, "m", "f", folder("m", fmt.Sprintf("folder-%d", i), "", ""))
	}
	errs := make(chan error, 2*writers)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(2)
			go func() {
				defer wg.Done()
				folderID := fmt.Sprintf("folder-%d", i)
				p := store.MessagesPage{Tenant: tenantA, Mailbox: "m", FolderID: folderID, Next: store.Next{Token: "d"}}
				for j := range 1 + 97*i {
					p.Upserts = append(p.Upserts, message("m", folderID, fmt.Sprintf("%s-m%d", folderID, j)))
				}
				_, err := s.ApplyMessages(ctx(t), p)
				errs <- err
			}()
			go func() {
				defer wg.Done()
				p := store.UsersPage{Tenant: fmt.Sprintf("tenant-%d", i), Next: store.Next{Token: "d"}}
				for j := range 1 + 53*i {
					p.Upserts = append(p.Upserts, domain.User{ID: fmt.Sprintf("u%d", j), HasMailbox: true})
				}
				_, err := s.ApplyUsers(ctx(t), p)
				errs <- err
			}()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("pages applied at once did not all finish within a minute: a writer waits on another")
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("applying pages at once: %v", err)
		}
	}
	want := 0
	for i := range writers {
		want += 1 + 97*i
		if n := must[int](t, "counting users")(s.Count(ctx(t), fmt.Sprintf("tenant-%d", i), "", domain.KindUser)); n != 1+53*i {
			t.Errorf("tenant-%d holds %d users, want %d", i, n, 1+53*i)
		}
	}
	if n := must[int](t, "counting messages")(s.Count(ctx(t), tenantA, "m", domain.KindMessage)); n != want {
		t.Errorf("the mailbox holds %d messages, want %d", n, want)
	}
}
