package activities

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"
)

// mailboxLeaseTTL is how long a mailbox's sync lease lasts without renewal.
// The holder renews it before every batch round, so it only runs out when
// its run is gone (terminated, not retried: a retry is the same holder and
// takes its lease back at once). It outlasts a round slowed by Graph's
// Retry-After.
const mailboxLeaseTTL = 5 * time.Minute

// leasePoll is how often a sync waiting for another run's lease asks again.
const leasePoll = 500 * time.Millisecond

// ErrMailboxLeaseLost: the mailbox's lease ran out mid-sync and another run
// took it; this run stops the mailbox (the other one syncs it) and is
// retried.
const ErrMailboxLeaseLost = "MailboxLeaseLost"

// leaseHolder names this sync of a mailbox: the activity (workflow, run and
// activity IDs), the same on every attempt, so a retry after a crash takes
// its own lease back; outside an activity (the bench's floor) a random ID.
func leaseHolder(ctx context.Context) string {
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		return info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" + info.ActivityID
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "local-" + hex.EncodeToString(b[:])
}

// lease waits until this sync holds the mailbox: one sync run at a time
// walks a mailbox's cursors (see store.LeaseMailbox). Another run's sync
// of it is waited out, not skipped, so this run still brings the mailbox
// up to date (then cheaply: the other run moved its cursors).
func (j mailboxJob) lease(ctx context.Context, mailbox string) (release func(), err error) {
	holder := leaseHolder(ctx)
	logged := false
	for {
		ok, err := j.Store.LeaseMailbox(ctx, j.tenant, mailbox, holder, mailboxLeaseTTL)
		if err != nil {
			return nil, retryable("leasing the mailbox", err)
		}
		if ok {
			break
		}
		if !logged {
			j.Log.Info("mailbox is being synced by another run; waiting for it", zap.String("tenant", j.tenant), zap.String("mailbox", mailbox))
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(leasePoll):
		}
	}
	return func() {
		// A fresh context: the activity's may be done, and a lease left
		// behind would hold the next run off for the whole TTL.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := j.Store.ReleaseMailbox(rctx, j.tenant, mailbox, holder); err != nil {
			j.Log.Warn("mailbox lease not released; it expires on its own", zap.String("tenant", j.tenant), zap.String("mailbox", mailbox), zap.Error(err))
		}
	}, nil
}

// renewLease extends this sync's lease before another batch round.
func (j mailboxJob) renewLease(ctx context.Context, mailbox string) error {
	ok, err := j.Store.LeaseMailbox(ctx, j.tenant, mailbox, leaseHolder(ctx), mailboxLeaseTTL)
	if err != nil {
		return retryable("renewing the mailbox lease", err)
	}
	if !ok {
		return temporal.NewApplicationError(fmt.Sprintf("the lease on mailbox %s ran out and another sync run took it", mailbox), ErrMailboxLeaseLost)
	}
	return nil
}
