package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/store"
)

// testSealedSecretsRoundTrip: a sealed secret's bytes come back exactly
// (any byte value), a second put replaces the first, keys are isolated by
// kind, tenant and subject, deletion removes only its row, and a missing
// secret is found false rather than an error.
func testSealedSecretsRoundTrip(t *testing.T, h *harness) {
	s := h.open()
	c := ctx(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	key := store.SecretKey{Kind: "msal-cache", Tenant: tenantA, Subject: "user-1"}
	blob := []byte{1, 0, 0xff, 'k', 0x00, 0x80, 0x7f, 0xc3, 0x28}
	if err := s.PutSealedSecret(c, store.SealedSecret{SecretKey: key, KeyID: "k1", Sealed: blob, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	got, found, err := s.SealedSecret(c, key)
	if err != nil || !found {
		t.Fatalf("reading the secret just put: found %v, err %v", found, err)
	}
	equal(t, "the sealed secret", got, store.SealedSecret{SecretKey: key, KeyID: "k1", Sealed: blob, UpdatedAt: at.UTC().Truncate(time.Microsecond)})

	for _, other := range []store.SecretKey{
		{Kind: "pkce", Tenant: tenantA, Subject: "user-1"},
		{Kind: "msal-cache", Tenant: tenantB, Subject: "user-1"},
		{Kind: "msal-cache", Tenant: tenantA, Subject: "user-2"},
	} {
		if _, found, err := s.SealedSecret(c, other); err != nil || found {
			t.Errorf("%s: found %v, err %v; want not found, no error", other, found, err)
		}
	}

	// A second put replaces the row; a zero UpdatedAt is the store's clock.
	before := time.Now().Add(-time.Second)
	if err := s.PutSealedSecret(c, store.SealedSecret{SecretKey: key, KeyID: "k2", Sealed: []byte("second")}); err != nil {
		t.Fatal(err)
	}
	got = must[store.SealedSecret](t, "reading")(first(s.SealedSecret(c, key)))
	if got.KeyID != "k2" || !bytes.Equal(got.Sealed, []byte("second")) {
		t.Errorf("after a second put: key %q sealed %q; want k2, %q", got.KeyID, got.Sealed, "second")
	}
	if got.UpdatedAt.Before(before) || got.UpdatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("a put without UpdatedAt stored %v, want about now", got.UpdatedAt)
	}
	if n := must[map[string]int](t, "counting")(s.SealedSecretKeyIDs(c)); !equalCounts(n, map[string]int{"k2": 1}) {
		t.Errorf("a replaced secret counts %v, want one row under k2", n)
	}

	keep := store.SecretKey{Kind: "msal-cache", Tenant: tenantB, Subject: "user-1"}
	if err := s.PutSealedSecret(c, store.SealedSecret{SecretKey: keep, KeyID: "k2", Sealed: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSealedSecret(c, key); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.SealedSecret(c, key); err != nil || found {
		t.Errorf("after delete: found %v, err %v", found, err)
	}
	if _, found, err := s.SealedSecret(c, keep); err != nil || !found {
		t.Errorf("deleting tenant A's secret took tenant B's (found %v, err %v)", found, err)
	}
	if err := s.DeleteSealedSecret(c, key); err != nil {
		t.Errorf("deleting a missing secret: %v, want no error", err)
	}

	for name, bad := range map[string]store.SealedSecret{
		"no kind":    {SecretKey: store.SecretKey{Tenant: tenantA, Subject: "u"}, KeyID: "k", Sealed: []byte("x")},
		"no tenant":  {SecretKey: store.SecretKey{Kind: "pkce", Subject: "u"}, KeyID: "k", Sealed: []byte("x")},
		"no subject": {SecretKey: store.SecretKey{Kind: "pkce", Tenant: tenantA}, KeyID: "k", Sealed: []byte("x")},
		"no key id":  {SecretKey: store.SecretKey{Kind: "pkce", Tenant: tenantA, Subject: "u"}, Sealed: []byte("x")},
		"no bytes":   {SecretKey: store.SecretKey{Kind: "pkce", Tenant: tenantA, Subject: "u"}, KeyID: "k"},
	} {
		if err := s.PutSealedSecret(c, bad); !errors.Is(err, store.ErrInvalidRecord) {
			t.Errorf("%s: err %v, want ErrInvalidRecord", name, err)
		}
	}
}

// testSealedSecretsSweep: DeleteSealedSecretsBefore removes the rows of its
// kind put strictly before the instant, and nothing else.
func testSealedSecretsSweep(t *testing.T, h *harness) {
	s := h.open()
	c := ctx(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	put := func(kind, subject string, at time.Time) {
		t.Helper()
		if err := s.PutSealedSecret(c, store.SealedSecret{SecretKey: store.SecretKey{Kind: kind, Tenant: tenantA, Subject: subject}, KeyID: "k", Sealed: []byte(subject), UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	put("pkce", "old", t0.Add(-time.Hour))
	put("pkce", "edge", t0)
	put("pkce", "new", t0.Add(time.Minute))
	put("msal-cache", "old-cache", t0.Add(-time.Hour))
	if n := must[int](t, "sweeping")(s.DeleteSealedSecretsBefore(c, "pkce", t0)); n != 1 {
		t.Errorf("sweep deleted %d, want 1 (only the pkce row strictly before)", n)
	}
	for subject, want := range map[string]bool{"old": false, "edge": true, "new": true} {
		if _, found, _ := s.SealedSecret(c, store.SecretKey{Kind: "pkce", Tenant: tenantA, Subject: subject}); found != want {
			t.Errorf("pkce %q found %v after the sweep, want %v", subject, found, want)
		}
	}
	if _, found, _ := s.SealedSecret(c, store.SecretKey{Kind: "msal-cache", Tenant: tenantA, Subject: "old-cache"}); !found {
		t.Error("a sweep of pkce took an msal-cache row")
	}
	if n := must[int](t, "sweeping with a zero time")(s.DeleteSealedSecretsBefore(c, "pkce", time.Time{})); n != 0 {
		t.Errorf("a zero before deleted %d rows, want 0", n)
	}
}

// testSealedSecretsRotation: rotation pages through the rows not under the
// active key in key order, re-seals each only if it is unchanged, and
// leaves UpdatedAt alone.
func testSealedSecretsRotation(t *testing.T, h *harness) {
	s := h.open()
	c := ctx(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var want []store.SecretKey
	for i := range 7 {
		key := store.SecretKey{Kind: "msal-cache", Tenant: tenantA, Subject: fmt.Sprintf("user-%d", i)}
		keyID := "old"
		if i%3 == 0 {
			keyID = "new"
		} else {
			want = append(want, key)
		}
		if err := s.PutSealedSecret(c, store.SealedSecret{SecretKey: key, KeyID: keyID, Sealed: []byte(keyID + key.Subject), UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutSealedSecret(c, store.SealedSecret{SecretKey: store.SecretKey{Kind: "pkce", Tenant: tenantB, Subject: "state"}, KeyID: "older", Sealed: []byte("p"), UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	want = append(want, store.SecretKey{Kind: "pkce", Tenant: tenantB, Subject: "state"})
	equal(t, "rows by key", must[map[string]int](t, "counting")(s.SealedSecretKeyIDs(c)), map[string]int{"new": 3, "old": 4, "older": 1})

	var got []store.SecretKey
	var after store.SecretKey
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging never ended")
		}
		page := must[[]store.SealedSecret](t, "listing")(s.SealedSecretsNotUnder(c, "new", after, 3))
		if len(page) == 0 {
			break
		}
		if len(page) > 3 {
			t.Fatalf("a page of limit 3 has %d rows", len(page))
		}
		for _, sec := range page {
			if sec.KeyID == "new" || len(sec.Sealed) == 0 || sec.UpdatedAt != at {
				t.Errorf("listed %s under %q with %q at %v", sec.SecretKey, sec.KeyID, sec.Sealed, sec.UpdatedAt)
			}
			got = append(got, sec.SecretKey)
		}
		after = page[len(page)-1].SecretKey
	}
	equal(t, "secrets not under the active key, in key order", got, want)
	all := must[[]store.SealedSecret](t, "listing all")(s.SealedSecretsNotUnder(c, "new", store.SecretKey{}, 0))
	if len(all) != len(want) {
		t.Errorf("limit 0 listed %d rows, want all %d", len(all), len(want))
	}

	old := all[0]
	ok := must[bool](t, "re-sealing")(s.ResealSecret(c, old, "new", []byte("resealed")))
	if !ok {
		t.Fatal("re-sealing an unchanged row reported a change")
	}
	got1 := must[store.SealedSecret](t, "reading")(first(s.SealedSecret(c, old.SecretKey)))
	equal(t, "the re-sealed row", got1, store.SealedSecret{SecretKey: old.SecretKey, KeyID: "new", Sealed: []byte("resealed"), UpdatedAt: at})
	if ok := must[bool](t, "re-sealing again")(s.ResealSecret(c, old, "new", []byte("stale"))); ok {
		t.Error("re-sealing from bytes the row no longer holds overwrote it")
	}
	if got2 := must[store.SealedSecret](t, "reading")(first(s.SealedSecret(c, old.SecretKey))); !bytes.Equal(got2.Sealed, []byte("resealed")) {
		t.Errorf("a lost re-seal changed the row to %q", got2.Sealed)
	}
	gone := all[1]
	if err := s.DeleteSealedSecret(c, gone.SecretKey); err != nil {
		t.Fatal(err)
	}
	if ok := must[bool](t, "re-sealing a deleted row")(s.ResealSecret(c, gone, "new", []byte("x"))); ok {
		t.Error("re-sealing a deleted row reported a change")
	}
	if _, found, _ := s.SealedSecret(c, gone.SecretKey); found {
		t.Error("re-sealing a deleted row brought it back")
	}
}

// first drops the found flag of a lookup, failing on not found through the
// error.
func first(sec store.SealedSecret, found bool, err error) (store.SealedSecret, error) {
	if err == nil && !found {
		err = errors.New("not found")
	}
	return sec, err
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
