package user

import (
	"fmt"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/workflows/settle"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// checksPerRun continues-as-new after this many checks, keeping the
// history of this forever-running workflow short.
const checksPerRun = 500

// checkOptions bound one token check by time, like the tenant's: the
// identity platform throttling for minutes must not look like a revoked
// token, and after the budget the user shows Unreachable.
var checkOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    2 * time.Minute,
	ScheduleToCloseTimeout: 30 * time.Minute,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
}

// Connection is a delegated user's connection: it checks their refresh
// token every VerifyInterval (and at once when they sign in again or an
// operator asks), and keeps a status the rest of outlookflow waits on.
func Connection(ctx workflow.Context, in ConnectionInput) error {
	if in.TenantKey == "" || in.ObjectID == "" {
		return temporal.NewNonRetryableApplicationError("tenant key and object ID are required", "InvalidInput", nil)
	}
	if in.VerifyInterval.Std() < time.Second {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("verify interval %s is below the 1s minimum", in.VerifyInterval), "InvalidInput", nil)
	}
	c := &userConnection{in: in, log: log.With(workflow.GetLogger(ctx), "tenant", in.TenantKey)}
	if in.State != nil {
		c.state = *in.State
	} else {
		c.state = ConnectionState{Status: StatusChecking, StatusSince: workflow.Now(ctx)}
		c.checkRequested = true
	}
	return c.run(ctx)
}

type userConnection struct {
	in             ConnectionInput
	state          ConnectionState
	log            log.Logger
	checkRequested bool
	inFlight       bool // a check is running
	checksThisRun  int
	signIns        workflow.ReceiveChannel // SignalSignIn
	needs          workflow.ReceiveChannel // SignalNeeds
}

func (c *userConnection) run(ctx workflow.Context) error {
	if err := c.setupHandlers(ctx); err != nil {
		return err
	}
	c.signIns = workflow.GetSignalChannel(ctx, SignalSignIn)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var s SignedIn
			c.signIns.Receive(ctx, &s)
			c.applySignIn(s)
		}
	})
	c.needs = workflow.GetSignalChannel(ctx, SignalNeeds)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var n NeedsChanged
			c.needs.Receive(ctx, &n)
			c.applyNeeds(ctx, n)
		}
	})
	if err := c.publish(ctx); err != nil {
		return err
	}
	// A fresh connection starts with its SignedIn signal (signal-with-
	// start): let the receiver take it before the first check.
	if err := workflow.Await(ctx, func() bool { return c.state.Account.ObjectID != "" }); err != nil {
		return err
	}
	for {
		if c.checksThisRun >= checksPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Updates waiting for a check (check-now, resume) are answered
			// by running it here: only this loop runs checks. Signals this
			// task delivered are applied first (a sign-in is checked): their
			// receivers would otherwise run after the state is handed on.
			drain := workflow.GetVersion(ctx, "drain-signals-before-continue-as-new", workflow.DefaultVersion, 1) == 1
			for {
				if drain {
					if err := settle.Coroutines(ctx); err != nil {
						return err
					}
				}
				checkDue := c.checkRequested && !c.state.Paused
				if workflow.AllHandlersFinished(ctx) && (!drain || !checkDue) {
					break
				}
				if !checkDue {
					if err := workflow.Await(ctx, func() bool {
						return workflow.AllHandlersFinished(ctx) || (c.checkRequested && !c.state.Paused)
					}); err != nil {
						return err
					}
					continue
				}
				c.check(ctx)
			}
			next := c.in
			st := c.state
			next.State = &st
			return workflow.NewContinueAsNewError(ctx, ConnectionWorkflowName, next)
		}
		if c.state.Paused {
			if err := workflow.Await(ctx, func() bool { return !c.state.Paused || workflow.GetInfo(ctx).GetContinueAsNewSuggested() }); err != nil {
				return err
			}
			continue
		}
		if !c.checkRequested {
			wake := func() bool { return c.checkRequested || c.state.Paused }
			if c.state.Status == StatusReauthRequired {
				// Nothing to check until the user signs in again: a
				// refused refresh token never comes back by itself.
				if err := workflow.Await(ctx, wake); err != nil {
					return err
				}
			} else if wait := c.state.LastCheckedAt.Add(c.in.VerifyInterval.Std()).Sub(workflow.Now(ctx)); wait > 0 {
				if _, err := workflow.AwaitWithTimeout(ctx, wait, wake); err != nil {
					return err
				}
			}
			if c.state.Paused || (!c.checkRequested && workflow.Now(ctx).Before(c.state.LastCheckedAt.Add(c.in.VerifyInterval.Std()))) {
				continue
			}
		}
		c.check(ctx)
	}
}

func (c *userConnection) check(ctx workflow.Context) {
	c.checkRequested = false
	c.inFlight = true
	defer func() { c.inFlight = false }()
	// Ask for what the user consented to when that is known: asking a
	// refresh for a scope they never consented to (a recipe enabled since)
	// is refused (AADSTS65001) and would read as a dead sign-in, when the
	// user only lacks that scope (MissingScopes, below).
	ask := c.state.Account.Scopes
	if len(ask) == 0 {
		ask = Scopes(c.in.Needed)
	}
	var res activities.CheckUserResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, checkOptions), d.CheckUserConnection, activities.CheckUserInput{
		TenantKey: c.in.TenantKey, Account: c.state.Account, Permissions: ask,
	}).Get(ctx, &res)
	c.state.LastCheckedAt = workflow.Now(ctx)
	c.state.Checks++
	c.checksThisRun++
	switch {
	case err != nil:
		c.setStatus(ctx, StatusUnreachable, "", "the identity platform kept failing: "+err.Error())
	case res.ReauthCode != "":
		c.state.Missing = nil
		c.setStatus(ctx, StatusReauthRequired, res.ReauthCode, res.Reason+" — the user must sign in again: starter connect-user --tenant "+c.in.TenantKey+" --user UPN")
	default:
		c.state.Account.Scopes = res.Scopes
		c.setScopeStatus(ctx)
	}
}

// applySignIn takes a new sign-in's account (and the needs it consented
// to) and asks for a check.
func (c *userConnection) applySignIn(s SignedIn) {
	c.state.Account = s.Account
	if s.Needed != nil {
		c.in.Needed = s.Needed
	}
	c.checkRequested = true
}

// applyNeeds takes what the user must now have consented to.
func (c *userConnection) applyNeeds(ctx workflow.Context, n NeedsChanged) {
	c.in.Needed = n.Needed
	c.compareScopes(ctx)
}

// compareScopes re-reads the user's standing against changed needs, from
// the scopes their last check saw (no identity call): a recipe enabled
// since needs a scope they never consented to → MissingScopes; disabled
// again → Connected. Other statuses wait for their own way out (a sign-in,
// a check).
func (c *userConnection) compareScopes(ctx workflow.Context) {
	if c.state.Status == StatusConnected || c.state.Status == StatusMissingScopes {
		c.setScopeStatus(ctx)
	}
}

// setScopeStatus is Connected or MissingScopes, by the account's scopes
// against what is needed.
func (c *userConnection) setScopeStatus(ctx workflow.Context) {
	c.state.Missing = permissions.Compare(c.in.Needed, c.state.Account.Scopes).Lacking
	if len(c.state.Missing) > 0 {
		c.setStatus(ctx, StatusMissingScopes, "", fmt.Sprintf("the user consented without %v; have them sign in again (starter connect-user) and consent", c.state.Missing))
		return
	}
	c.setStatus(ctx, StatusConnected, "", "")
}

func (c *userConnection) effective() Status {
	if c.state.Paused {
		return StatusPaused
	}
	return c.state.Status
}

func (c *userConnection) setStatus(ctx workflow.Context, s Status, code, detail string) {
	before := c.effective()
	c.state.Status, c.state.Code, c.state.Detail = s, code, detail
	c.published(ctx, before, code != "")
}

// setPaused pauses or resumes the user, publishing the change.
func (c *userConnection) setPaused(ctx workflow.Context, paused bool, reason string) {
	before := c.effective()
	c.state.Paused, c.state.PauseReason = paused, reason
	c.published(ctx, before, false)
}

// published tells the search attributes and the tenant when the effective
// status moved from before (or always, when force).
func (c *userConnection) published(ctx workflow.Context, before Status, force bool) {
	if before == c.effective() && !force {
		return
	}
	if before != c.effective() {
		c.state.StatusSince = workflow.Now(ctx)
		c.log.Info("user status changed", "from", before, "to", c.effective(), "code", c.state.Code)
	}
	if err := c.publish(ctx); err != nil {
		c.log.Warn("could not publish the user's status", "error", err)
	}
}

// publish sets the search attributes and tells the tenant's connection,
// which summarises its users. The tenant not running is fine: it asks
// when it starts.
func (c *userConnection) publish(ctx workflow.Context) error {
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		tenant.SearchAttrTenant.ValueSet(c.in.TenantKey),
		tenant.SearchAttrStatus.ValueSet(string(c.effective()))); err != nil {
		return err
	}
	workflow.SignalExternalWorkflow(ctx, tenant.WorkflowID(c.in.TenantKey), "", tenant.SignalUserStatus,
		tenant.UserStatusSignal{ObjectID: c.in.ObjectID, Status: string(c.effective()), Code: c.state.Code})
	return nil
}

func (c *userConnection) view(ctx workflow.Context) StatusView {
	next := time.Time{}
	if !c.state.Paused && c.state.Status != StatusReauthRequired && !c.state.LastCheckedAt.IsZero() {
		next = c.state.LastCheckedAt.Add(c.in.VerifyInterval.Std())
	}
	return StatusView{
		TenantKey: c.in.TenantKey, ObjectID: c.in.ObjectID, Username: c.state.Account.Username,
		Status: c.effective(), Code: c.state.Code, Detail: c.state.Detail, StatusSince: c.state.StatusSince,
		Scopes: c.state.Account.Scopes, Missing: c.state.Missing, Flow: c.state.Account.Flow,
		Paused: c.state.Paused, PauseReason: c.state.PauseReason, LastCheckedAt: c.state.LastCheckedAt, NextCheckAt: next,
	}
}

func (c *userConnection) setupHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (StatusView, error) { return c.view(ctx), nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdatePause, func(ctx workflow.Context, req PauseRequest) (StatusView, error) {
		c.setPaused(ctx, true, req.Reason)
		return c.view(ctx), nil
	}, workflow.UpdateHandlerOptions{Validator: func(req PauseRequest) error {
		if n := utf8.RuneCountInString(req.Reason); n > MaxReasonText {
			return fmt.Errorf("the reason is %d characters; keep it to %d", n, MaxReasonText)
		}
		return nil
	}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, UpdateResume, func(ctx workflow.Context) (StatusView, error) {
		c.setPaused(ctx, false, "")
		c.checkRequested = true
		return c.awaitCheck(ctx)
	}); err != nil {
		return err
	}
	return workflow.SetUpdateHandler(ctx, UpdateCheck, func(ctx workflow.Context) (StatusView, error) {
		c.checkRequested = true
		return c.awaitCheck(ctx)
	})
}

// awaitCheck waits for the check an update asked for, and answers with
// its outcome.
func (c *userConnection) awaitCheck(ctx workflow.Context) (StatusView, error) {
	// A check already running began before the request (it may have read
	// the token before a revocation): wait for the next one.
	want := c.state.Checks + 1
	if c.inFlight {
		want++
	}
	if err := workflow.Await(ctx, func() bool { return c.state.Checks >= want || c.state.Paused }); err != nil {
		return StatusView{}, err
	}
	return c.view(ctx), nil
}
