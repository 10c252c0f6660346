package storetest

import (
	"testing"
	"time"
)

// testMailboxLeases: one holder at a time per mailbox; the holder renews
// its own lease (and a retry with the same holder takes it back); another
// holder gets it once it is released or expired; mailboxes and tenants
// are independent.
func testMailboxLeases(t *testing.T, h *harness) {
	s := h.open()
	c := ctx(t)
	lease := func(tenant, mailbox, holder string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.LeaseMailbox(c, tenant, mailbox, holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !lease(tenantA, "u1", "run-1", time.Minute) {
		t.Fatal("a free mailbox was not leased")
	}
	if lease(tenantA, "u1", "run-2", time.Minute) {
		t.Fatal("another holder took a live lease")
	}
	if !lease(tenantA, "u1", "run-1", time.Minute) {
		t.Fatal("the holder could not renew its own lease")
	}
	if !lease(tenantA, "u2", "run-2", time.Minute) || !lease(tenantB, "u1", "run-2", time.Minute) {
		t.Fatal("a lease on one mailbox blocked another mailbox or tenant")
	}
	if err := s.ReleaseMailbox(c, tenantA, "u1", "run-2"); err != nil {
		t.Fatal(err)
	}
	if lease(tenantA, "u1", "run-2", time.Minute) {
		t.Fatal("releasing by a non-holder freed the lease")
	}
	if err := s.ReleaseMailbox(c, tenantA, "u1", "run-1"); err != nil {
		t.Fatal(err)
	}
	if !lease(tenantA, "u1", "run-2", 50*time.Millisecond) {
		t.Fatal("a released mailbox was not leased")
	}
	time.Sleep(120 * time.Millisecond)
	if !lease(tenantA, "u1", "run-3", time.Minute) {
		t.Fatal("an expired lease was not taken over")
	}
	if _, err := s.LeaseMailbox(c, tenantA, "u1", "", time.Minute); err == nil {
		t.Fatal("a lease without a holder was accepted")
	}
}
