package graphclient

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// Graph's Outlook limits, per app and mailbox (graph-behavior.md §7): at most
// 4 requests in flight and 10,000 per 10 minutes. The worker enforces them
// itself, across everything it does to a mailbox, so it waits instead of
// collecting 429s. With several workers each enforces its own share; see the
// README ("Graph's limits") for how the budget holds then.
const (
	mailboxConcurrency  = 4
	mailboxRequests     = 10000
	mailboxRatePeriod   = 10 * time.Minute
	mailboxBurst        = 100
	mailboxLimitIdleTTL = 15 * time.Minute
)

type mailboxLimit struct {
	slots    *semaphore.Weighted
	rate     *rate.Limiter
	lastUsed time.Time
}

// mailboxLimits hands out a limit per (tenant, mailbox).
type mailboxLimits struct {
	mu     sync.Mutex
	m      map[string]*mailboxLimit
	sweeps int
}

// acquire waits until the mailbox's budget allows requests more Graph
// requests and their slots are free; release gives the slots back. A
// $batch of n requests to one mailbox counts n against the rate and takes
// min(n, 4) slots, since Graph runs up to 4 of its items at once (§7); the
// slots are taken all at once, so two batches never hold half each.
func (l *mailboxLimits) acquire(ctx context.Context, key string, requests int) (release func(), err error) {
	if key == "" {
		return func() {}, nil
	}
	requests = max(requests, 1)
	ml := l.get(key)
	if err := ml.rate.WaitN(ctx, min(requests, mailboxBurst)); err != nil {
		return nil, err
	}
	slots := int64(min(requests, mailboxConcurrency))
	if err := ml.slots.Acquire(ctx, slots); err != nil {
		return nil, err
	}
	return func() { ml.slots.Release(slots) }, nil
}

func (l *mailboxLimits) get(key string) *mailboxLimit {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.m == nil {
		l.m = map[string]*mailboxLimit{}
	}
	ml, ok := l.m[key]
	if !ok {
		ml = &mailboxLimit{
			slots: semaphore.NewWeighted(mailboxConcurrency),
			rate:  rate.NewLimiter(rate.Every(mailboxRatePeriod/mailboxRequests), mailboxBurst),
		}
		l.m[key] = ml
	}
	ml.lastUsed = now
	// Forget idle mailboxes now and then, so 10,000 mailboxes cost memory
	// only while they are being synced.
	if l.sweeps++; l.sweeps%1024 == 0 {
		for k, v := range l.m {
			if now.Sub(v.lastUsed) > mailboxLimitIdleTTL && v.slots.TryAcquire(mailboxConcurrency) {
				delete(l.m, k)
			}
		}
	}
	return ml
}
