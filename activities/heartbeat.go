package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// KeepAlive heartbeats the running activity until the returned stop is
// called, so a worker that dies is noticed within the heartbeat timeout even
// while the activity is blocked in one long call (an SDK sleeping through
// Retry-After). Outside an activity, or without a heartbeat timeout, it does
// nothing. The SDK batches heartbeats, so ticking often costs no extra calls.
func KeepAlive(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	timeout := activity.GetInfo(ctx).HeartbeatTimeout
	if timeout <= 0 {
		return func() {}
	}
	every := timeout / 4
	if every < 100*time.Millisecond {
		every = 100 * time.Millisecond
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		// No heartbeat at the start: the heartbeat timeout counts from the
		// activity's start anyway, and a batch that ends within the first
		// tick (an idle one) then costs no heartbeat action at all.
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-ticker.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
