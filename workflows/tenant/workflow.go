package tenant

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/activities/schedules"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/credentials"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/settle"
)

// historyLengthCap continues-as-new even when the server has not suggested it
// yet, keeping replays of this forever-running workflow short.
const historyLengthCap = 2000

// a and sched are the nil handles through which the workflow names its
// activities.
var (
	a     *activities.Tenant
	sched *schedules.Activities
)

// Workflow is the tenant-connection entity workflow. It validates its input
// and hands over to connection, which tells the story.
func Workflow(ctx workflow.Context, in Input) error {
	if in.TenantKey == "" {
		return temporal.NewNonRetryableApplicationError("tenant key is required", "InvalidInput", nil)
	}
	c := &connection{in: in, log: log.With(workflow.GetLogger(ctx), "tenant", in.TenantKey)}
	if in.State != nil {
		c.state = *in.State
	} else {
		c.state = State{Status: StatusVerifying, StatusSince: workflow.Now(ctx)}
	}
	if err := validateSettings(in.Features, in.AuthMode, in.VerifyInterval); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", nil)
	}
	c.setRequirements()
	return c.run(ctx)
}

// validateSettings checks what config validation already guarantees, for
// callers that start the workflow or send settings some other way.
func validateSettings(features []string, authMode string, interval domain.Duration) error {
	// Config enforces an operator minimum of 1m; the workflow only refuses
	// intervals that would spin (tests use seconds).
	if interval.Std() < time.Second {
		return fmt.Errorf("verify interval %s is below the 1s minimum", interval)
	}
	if authMode != string(activities.AuthAppOnly) && authMode != string(activities.AuthDelegated) {
		return fmt.Errorf("auth mode %q is neither app-only nor delegated", authMode)
	}
	if _, unknown := permissions.Required(features, false); len(unknown) > 0 {
		return fmt.Errorf("unknown features %v", unknown)
	}
	return nil
}

// setRequirements derives the needed permissions from the enabled features.
func (c *connection) setRequirements() {
	c.featureNeeds = permissions.FeatureNeeds(c.in.Features, c.in.AuthMode == string(activities.AuthDelegated))
}

// needs are everything the grant is compared with: the features' needs and
// the enabled recipes'.
func (c *connection) needs() []permissions.Need {
	return append(slices.Clip(c.featureNeeds), c.state.RecipeNeeds...)
}

// applySettings takes new settings and reports whether any changed.
func (c *connection) applySettings(req SettingsRequest) bool {
	changed := req.DisplayName != c.in.DisplayName || req.AuthMode != c.in.AuthMode ||
		req.VerifyInterval != c.in.VerifyInterval || !slices.Equal(req.Features, c.in.Features)
	// The sync interval only reshapes the schedule (the loop does that); it
	// needs no new verification.
	c.in.SyncInterval = req.SyncInterval
	c.in.DisplayName, c.in.AuthMode, c.in.VerifyInterval = req.DisplayName, req.AuthMode, req.VerifyInterval
	c.in.Features = append([]string(nil), req.Features...)
	c.setRequirements()
	return changed
}

type connection struct {
	in           Input
	state        State
	featureNeeds []permissions.Need
	log          log.Logger
	// recipeNeeds receives SignalRecipeNeeds.
	recipeNeeds workflow.ReceiveChannel
	// userStatuses receives SignalUserStatus.
	userStatuses workflow.ReceiveChannel

	scheduleFailed  bool      // the last schedule update failed; wait for the next check
	schedulingOff   bool      // replaying a history from before the sync schedule existed
	scheduleKeeper  bool      // the schedule is kept by its own coroutine, not the check loop
	scheduleBusy    bool      // the keeper's schedule update is running
	verifyRequested bool      // set by updates; cleared when a check starts
	inFlight        bool      // a check is running
	checkStartedAt  time.Time // when the running check started
	checksThisRun   int
}

func (c *connection) run(ctx workflow.Context) error {
	if err := c.setupHandlers(ctx); err != nil {
		return err
	}
	c.listenForRecipeNeeds(ctx)
	c.listenForUsers(ctx)
	if err := c.publishSearchAttributes(ctx); err != nil {
		return err
	}
	// A fresh start verifies at once; a continued run waits out the interval.
	if c.in.State == nil {
		c.verifyRequested = true
	}
	if workflow.GetVersion(ctx, "sync-schedule-keeper", workflow.DefaultVersion, scheduleKeeperVersion) == scheduleKeeperVersion {
		c.keepScheduleInBackground(ctx)
	}
	for {
		if c.shouldContinueAsNew(ctx) {
			// The schedule update running now is recorded in the state
			// handed on, so the next run does not repeat it.
			if err := workflow.Await(ctx, func() bool { return !c.scheduleBusy }); err != nil {
				return err
			}
			return c.continueAsNew(ctx)
		}
		if !c.scheduleKeeper {
			c.keepScheduleInStep(ctx)
		}
		if c.state.Paused {
			// No timer while paused: nothing to do until resume or an update.
			if err := workflow.Await(ctx, func() bool { return !c.state.Paused || c.shouldContinueAsNew(ctx) || c.loopOwesScheduleUpdate() }); err != nil {
				return err
			}
			continue
		}
		if !c.verifyRequested {
			wait := c.nextCheckAt().Sub(workflow.Now(ctx))
			if wait > 0 {
				if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool {
					return c.verifyRequested || c.state.Paused || c.shouldContinueAsNew(ctx) || c.loopOwesScheduleUpdate()
				}); err != nil {
					return err
				}
				if c.state.Paused || (!c.verifyRequested && workflow.Now(ctx).Before(c.nextCheckAt())) {
					continue
				}
			}
		}
		c.verify(ctx)
	}
}

// verifyActivityOptions bound a check by time, not by attempts: a short
// Retry-After must not use up the budget in seconds, and a long one must not
// make the check look dead.
var verifyActivityOptions = workflow.ActivityOptions{
	// Covers the SDKs' own Retry-After waits inside one attempt (kiota may
	// sleep up to 180 s per retry). Heartbeats, not this, catch dead workers.
	StartToCloseTimeout: 10 * time.Minute,
	// The activity heartbeats while it runs, so a worker killed mid-check is
	// noticed within this and the check moves to another worker.
	HeartbeatTimeout: activities.VerifyHeartbeatTimeout,
	// Transient failures retry for up to half an hour, then the tenant shows
	// Unreachable until the next interval.
	ScheduleToCloseTimeout: VerifyRetryBudget,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    5 * time.Second,
		BackoffCoefficient: 2,
		// Retry-After, when Graph sends one, replaces the backoff.
		MaximumInterval: time.Minute,
		// No MaximumAttempts: the budget above is the only bound.
	},
}

// VerifyRetryBudget is how long one check may keep retrying transient failures.
const VerifyRetryBudget = 30 * time.Minute

// verify runs one credential check and records its verdict.
func (c *connection) verify(ctx workflow.Context) {
	if c.delegated() {
		// A delegated tenant has no credential of its own to check: each
		// user's connection checks theirs, and this summarises them.
		c.verifyRequested = false
		c.state.LastCheckedAt = workflow.Now(ctx)
		c.state.Verifications++
		c.checksThisRun++
		c.summariseUsers(ctx)
		return
	}
	c.verifyRequested = false
	c.inFlight = true
	c.checkStartedAt = workflow.Now(ctx)
	defer func() { c.inFlight, c.checkStartedAt = false, time.Time{} }()
	var res activities.VerifyConnectionResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, verifyActivityOptions), a.VerifyConnection,
		activities.VerifyConnectionInput{TenantKey: c.in.TenantKey, CredentialVersion: c.state.CredentialVersion}).Get(ctx, &res)
	now := workflow.Now(ctx)
	c.state.LastCheckedAt = now
	c.state.Verifications++
	c.checksThisRun++
	if err != nil {
		c.state.ConsecutiveFailures++
		c.setStatus(ctx, StatusUnreachable, codeOf(err), failureMessage(err))
		return
	}
	c.state.ConsecutiveFailures = 0
	switch res.Outcome {
	case activities.OutcomeVerified:
		c.state.LastVerifiedAt = now
		c.state.Granted = res.GrantedPermissions
		if res.RecipeNeedsKnown {
			c.state.RecipeNeeds = res.RecipeNeeds
		}
		c.compareGrant(ctx)
	case activities.OutcomeInvalidCredentials:
		c.setStatus(ctx, StatusInvalidCredentials, res.Code, res.Detail)
	case activities.OutcomeConsentRevoked:
		c.state.Granted, c.state.Missing = nil, nil
		c.setStatus(ctx, StatusConsentRevoked, res.Code, res.Detail)
	default:
		c.setStatus(ctx, StatusMisconfigured, res.Code, res.Detail)
	}
}

// compareGrant sets Missing from the last grant and every need, and the
// status from the features' needs alone: a permission only a recipe lacks
// must not stop the sync (whose schedule runs only while Connected); the
// recipe's step fails with Graph's refusal instead, and Detail says so.
func (c *connection) compareGrant(ctx workflow.Context) {
	all := permissions.Compare(c.needs(), c.state.Granted)
	c.state.Missing = all.Lacking
	if sync := permissions.Compare(c.featureNeeds, c.state.Granted); len(sync.Lacking) > 0 {
		c.setStatus(ctx, StatusMissingPermissions, "", fmt.Sprintf("grant admin consent for %v", c.state.Missing))
		return
	}
	detail := ""
	if len(all.Lacking) > 0 {
		detail = fmt.Sprintf("the sync has what it needs, but enabled recipes lack %v (%s); their steps fail until it is granted (`starter scopes --tenant %s`)",
			all.Lacking, lackingBy(all), c.in.TenantKey)
	}
	c.setStatus(ctx, StatusConnected, "", detail)
}

// lackingBy names what needs the lacking permissions, at most three.
func lackingBy(cmp permissions.Comparison) string {
	var by []string
	for _, n := range cmp.Needed {
		if n.GrantedAs == "" {
			by = append(by, n.By...)
		}
	}
	if len(by) > 3 {
		by = append(by[:3], fmt.Sprintf("and %d more", len(by)-3))
	}
	return strings.Join(by, "; ")
}

// listenForRecipeNeeds takes the worker's word on what the enabled recipes
// need and compares the last grant with it at once, without a Graph call.
func (c *connection) listenForRecipeNeeds(ctx workflow.Context) {
	c.recipeNeeds = workflow.GetSignalChannel(ctx, SignalRecipeNeeds)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var sig RecipeNeedsSignal
			c.recipeNeeds.Receive(ctx, &sig)
			c.applyRecipeNeeds(ctx, sig)
		}
	})
}

func (c *connection) delegated() bool {
	return c.in.AuthMode == string(activities.AuthDelegated)
}

// listenForUsers keeps a delegated tenant's summary of its users' statuses.
func (c *connection) listenForUsers(ctx workflow.Context) {
	c.userStatuses = workflow.GetSignalChannel(ctx, SignalUserStatus)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var sig UserStatusSignal
			c.userStatuses.Receive(ctx, &sig)
			c.applyUserStatus(ctx, sig)
		}
	})
}

func (c *connection) applyUserStatus(ctx workflow.Context, sig UserStatusSignal) {
	if sig.ObjectID == "" {
		return
	}
	if c.state.Users == nil {
		c.state.Users = map[string]UserSummary{}
	}
	c.state.Users[sig.ObjectID] = UserSummary{Status: sig.Status, Code: sig.Code}
	if c.delegated() {
		c.summariseUsers(ctx)
	}
}

// summariseUsers sets a delegated tenant's status from its users': Connected
// while at least one is (the others' work waits for them, and Detail says
// who needs what), AwaitingUsers before anyone signed in, and
// UsersNeedAttention when nobody is connected any more.
func (c *connection) summariseUsers(ctx workflow.Context) {
	counts := c.userCounts()
	if len(c.state.Users) == 0 {
		c.setStatus(ctx, StatusAwaitingUsers, "", fmt.Sprintf("no user has signed in yet: starter connect-user --tenant %s --user UPN", c.in.TenantKey))
		return
	}
	var parts []string
	for _, s := range workflow.DeterministicKeys(counts) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
	}
	var codes []string
	for _, id := range workflow.DeterministicKeys(c.state.Users) {
		if u := c.state.Users[id]; u.Code != "" {
			codes = append(codes, codeName(u.Code))
		}
	}
	slices.Sort(codes)
	codes = slices.Compact(codes)
	detail := fmt.Sprintf("%d users: %s", len(c.state.Users), strings.Join(parts, ", "))
	if len(codes) > 0 {
		detail += fmt.Sprintf(" (%s)", strings.Join(codes, ", "))
	}
	if counts["Connected"] > 0 {
		c.setStatus(ctx, StatusConnected, "", detail)
		return
	}
	c.setStatus(ctx, StatusUsersNeedAttention, "", detail+"; see starter users --tenant "+c.in.TenantKey)
}

func (c *connection) userCounts() map[string]int {
	counts := map[string]int{}
	for _, id := range workflow.DeterministicKeys(c.state.Users) {
		counts[c.state.Users[id].Status]++
	}
	return counts
}

func (c *connection) applyRecipeNeeds(ctx workflow.Context, sig RecipeNeedsSignal) {
	c.state.RecipeNeeds = sig.Needs
	// Only a verified grant is worth comparing; until then (or while the
	// credentials fail) the next check does it.
	if c.state.Status == StatusConnected || c.state.Status == StatusMissingPermissions {
		c.compareGrant(ctx)
	}
}

func (c *connection) setStatus(ctx workflow.Context, s Status, code, detail string) {
	c.state.Code, c.state.Detail = code, detail
	if c.state.Status == s {
		return
	}
	c.log.Info("tenant status changed", "from", c.state.Status, "to", s, "code", code)
	c.state.Status = s
	c.state.StatusSince = workflow.Now(ctx)
	if err := c.publishSearchAttributes(ctx); err != nil {
		c.log.Warn("could not upsert search attributes", "error", err)
	}
}

func (c *connection) effectiveStatus() Status {
	if c.state.Paused {
		return StatusPaused
	}
	return c.state.Status
}

func (c *connection) publishSearchAttributes(ctx workflow.Context) error {
	return workflow.UpsertTypedSearchAttributes(ctx,
		SearchAttrTenant.ValueSet(c.in.TenantKey),
		SearchAttrStatus.ValueSet(string(c.effectiveStatus())))
}

func (c *connection) nextCheckAt() time.Time {
	if c.state.LastCheckedAt.IsZero() || c.state.Paused {
		return time.Time{}
	}
	return c.state.LastCheckedAt.Add(c.in.VerifyInterval.Std())
}

func (c *connection) view() StatusView {
	cmp := permissions.Compare(c.needs(), c.state.Granted)
	next := c.nextCheckAt()
	if c.inFlight {
		next = time.Time{} // the next check is planned when this one ends
	}
	return StatusView{
		TenantKey:      c.in.TenantKey,
		DisplayName:    c.in.DisplayName,
		Status:         c.effectiveStatus(),
		Paused:         c.state.Paused,
		PauseReason:    c.state.PauseReason,
		Code:           c.state.Code,
		Detail:         c.state.Detail,
		Granted:        c.state.Granted,
		Required:       neededNames(cmp.Needed),
		Missing:        c.state.Missing,
		Beyond:         cmp.Beyond,
		LastCheckedAt:  c.state.LastCheckedAt,
		LastVerifiedAt: c.state.LastVerifiedAt,
		StatusSince:    c.state.StatusSince,
		NextCheckAt:    next,
		Verifications:  c.state.Verifications,
		Runs:           c.state.Runs,

		Users:             c.userCounts(),
		CheckInProgress:   c.inFlight,
		CheckStartedAt:    c.checkStartedAt,
		CredentialVersion: c.state.CredentialVersion,
	}
}

func (c *connection) setupHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (StatusView, error) {
		return c.view(), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdatePause,
		func(ctx workflow.Context, req PauseRequest) (StatusView, error) {
			c.state.Paused, c.state.PauseReason = true, req.Reason
			c.log.Info("tenant paused")
			return c.view(), c.publishSearchAttributes(ctx)
		},
		workflow.UpdateHandlerOptions{Validator: func(req PauseRequest) error {
			if n := utf8.RuneCountInString(req.Reason); n > MaxPauseReasonLength {
				return fmt.Errorf("pause reason is %d characters; keep it to %d (a sentence for the status table)", n, MaxPauseReasonLength)
			}
			if c.state.Paused {
				return errors.New("tenant is already paused")
			}
			return nil
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResume,
		func(ctx workflow.Context, _ ResumeRequest) (StatusView, error) {
			c.state.Paused, c.state.PauseReason = false, ""
			c.log.Info("tenant resumed")
			if err := c.publishSearchAttributes(ctx); err != nil {
				return c.view(), err
			}
			return c.awaitCheck(ctx)
		},
		workflow.UpdateHandlerOptions{Validator: func(ResumeRequest) error {
			if !c.state.Paused {
				return errors.New("tenant is not paused")
			}
			return nil
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateVerifyNow,
		func(ctx workflow.Context, _ VerifyNowRequest) (StatusView, error) {
			return c.awaitCheck(ctx)
		},
		workflow.UpdateHandlerOptions{Validator: func(VerifyNowRequest) error {
			if c.state.Paused {
				return errors.New("tenant is paused; resume it to verify")
			}
			return nil
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSettings,
		func(ctx workflow.Context, req SettingsRequest) (StatusView, error) {
			changed := c.applySettings(req)
			switch {
			case c.state.Paused:
				return c.view(), nil
			case changed:
				c.log.Info("tenant settings changed", "features", req.Features, "verifyInterval", req.VerifyInterval)
				return c.awaitCheck(ctx)
			default:
				// Nothing new: answer once the tenant has been checked at all.
				err := workflow.Await(ctx, func() bool { return c.state.Verifications > 0 || c.state.Paused })
				return c.view(), err
			}
		},
		workflow.UpdateHandlerOptions{Validator: func(req SettingsRequest) error {
			return validateSettings(req.Features, req.AuthMode, req.VerifyInterval)
		}}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateRotateCredentials,
		func(ctx workflow.Context, req RotateCredentialsRequest) (StatusView, error) {
			c.state.CredentialVersion = req.CredentialVersion
			if req.CredentialVersion != "" {
				c.log.Info("tenant credentials rotated", "source", "credential vault", "version", req.CredentialVersion)
			} else {
				c.log.Info("tenant credentials rotated", "source", "configured reference")
			}
			if c.state.Paused {
				return c.view(), nil
			}
			return c.awaitCheck(ctx)
		},
		workflow.UpdateHandlerOptions{Validator: validateRotation})
}

// schedulingVersion marks the change that made this workflow keep the
// tenant's sync schedule; histories from before it replay without it.
const schedulingVersion = 1

// desiredSchedule is what the sync schedule should be now: running while the
// tenant is Connected, paused (with the reason as its note) otherwise.
func (c *connection) desiredSchedule() ScheduleState {
	every := c.in.SyncInterval
	if every <= 0 {
		every = domain.Duration(DefaultSyncInterval)
	}
	st := c.effectiveStatus()
	d := ScheduleState{Every: every, CredentialVersion: c.state.CredentialVersion, Paused: st != StatusConnected}
	if d.Paused {
		d.Note = fmt.Sprintf("tenant is %s; the connection workflow resumes this schedule when it is Connected again", st)
	}
	return d
}

// scheduleOutOfStep reports whether the schedule must be updated. Until the
// first check ends there is nothing to say, and no schedule is made.
func (c *connection) scheduleOutOfStep() bool {
	if c.scheduleFailed || c.schedulingOff || c.state.Verifications == 0 {
		return false
	}
	return c.state.Schedule == nil || *c.state.Schedule != c.desiredSchedule()
}

// scheduleKeeperVersion marks the change that moved schedule updates out of
// the check loop into their own coroutine; histories from before it replay
// with the loop doing them.
const scheduleKeeperVersion = 1

// loopOwesScheduleUpdate reports whether the check loop must wake to update
// the schedule: only in runs from before the keeper coroutine.
func (c *connection) loopOwesScheduleUpdate() bool {
	return !c.scheduleKeeper && c.scheduleOutOfStep()
}

// keepScheduleInBackground updates the sync schedule in its own coroutine
// whenever its desired state changes. The check loop never waits for it: a
// schedule update can take minutes when the Temporal server is slow to
// answer (describing a schedule queries its scheduler workflow), and
// meanwhile checks must go on, so a restored consent shows Connected on
// time. A failed update is tried again after the next check ends.
func (c *connection) keepScheduleInBackground(ctx workflow.Context) {
	c.scheduleKeeper = true
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, c.scheduleOutOfStep); err != nil {
				return
			}
			checks := c.state.Verifications
			c.scheduleBusy = true
			c.keepScheduleInStep(ctx)
			c.scheduleBusy = false
			if c.scheduleFailed {
				if err := workflow.Await(ctx, func() bool { return c.state.Verifications > checks }); err != nil {
					return
				}
				c.scheduleFailed = false
			}
		}
	})
}

// keepScheduleInStep creates or updates the sync schedule when its desired
// state changed. A failure is logged and retried after the next check.
func (c *connection) keepScheduleInStep(ctx workflow.Context) {
	c.scheduleFailed = false
	if !c.scheduleOutOfStep() {
		return
	}
	if workflow.GetVersion(ctx, "sync-schedule", workflow.DefaultVersion, schedulingVersion) == workflow.DefaultVersion {
		// A run that started before this code keeps behaving as it did;
		// its continue-as-new successor manages the schedule.
		c.schedulingOff = true
		return
	}
	want := c.desiredSchedule()
	ao := workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	}
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), sched.EnsureSyncSchedule, schedules.EnsureSyncScheduleInput{
		TenantKey:         c.in.TenantKey,
		SyncTaskQueue:     mailsync.TaskQueue(workflow.GetInfo(ctx).TaskQueueName),
		Every:             want.Every,
		CredentialVersion: want.CredentialVersion,
		Paused:            want.Paused,
		Note:              want.Note,
	}).Get(ctx, nil)
	if err != nil {
		c.scheduleFailed = true
		c.log.Warn("could not update the sync schedule; retrying after the next check", "error", err)
		return
	}
	c.log.Info("sync schedule updated", "paused", want.Paused, "every", want.Every.String())
	c.state.Schedule = &want
}

// validateRotation refuses secrets in the request (the old wire form) and
// versions that cannot have come from the vault. A rejected update is not
// written to history, so a secret sent by an old starter never lands there.
func validateRotation(req RotateCredentialsRequest) error {
	if req.LegacySecret != "" {
		return errors.New("secrets are not accepted in updates (they would be stored in workflow history); " +
			"use `starter rotate --tenant KEY --secret-stdin`, which seals the secret into the worker's credential directory")
	}
	if req.CredentialVersion != "" && !credentials.ValidVersion(req.CredentialVersion) {
		return fmt.Errorf("credential version %q is malformed; use the version `starter rotate --secret-stdin` stores", req.CredentialVersion)
	}
	return nil
}

// awaitCheck requests a verification and waits for a check that started
// after the request, so the caller sees its outcome (a check already running
// may have read the old secret, so it does not count).
func (c *connection) awaitCheck(ctx workflow.Context) (StatusView, error) {
	target := c.state.Verifications + 1
	if c.inFlight {
		target++
	}
	c.verifyRequested = true
	err := workflow.Await(ctx, func() bool { return c.state.Verifications >= target })
	return c.view(), err
}

func (c *connection) shouldContinueAsNew(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	if c.in.ContinueAsNewAfter > 0 && c.checksThisRun >= c.in.ContinueAsNewAfter {
		return true
	}
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > historyLengthCap
}

func (c *connection) continueAsNew(ctx workflow.Context) error {
	// Let running update handlers reply before this run closes. They may be
	// waiting for a check (verify-now, resume, rotate), so run the checks
	// they asked for rather than wait for each other forever.
	for !workflow.AllHandlersFinished(ctx) {
		if err := workflow.Await(ctx, func() bool {
			return workflow.AllHandlersFinished(ctx) || (c.verifyRequested && !c.state.Paused)
		}); err != nil {
			return err
		}
		if !workflow.AllHandlersFinished(ctx) {
			c.verify(ctx)
		}
	}
	// Needs and user statuses signalled in this last task would be lost
	// with the run: their receivers run only after this coroutine, and a
	// signal is handed straight to a receiver blocked on it, so let them
	// run first. (Runs from before this settle drain only what was left
	// buffered in the channels.)
	if workflow.GetVersion(ctx, "settle-signals-before-continue-as-new", workflow.DefaultVersion, 1) == 1 {
		if err := settle.Coroutines(ctx); err != nil {
			return err
		}
	}
	for {
		var sig RecipeNeedsSignal
		if !c.recipeNeeds.ReceiveAsync(&sig) {
			break
		}
		c.applyRecipeNeeds(ctx, sig)
	}
	for {
		var sig UserStatusSignal
		if !c.userStatuses.ReceiveAsync(&sig) {
			break
		}
		c.applyUserStatus(ctx, sig)
	}
	next := c.in
	st := c.state
	st.Runs++
	next.State = &st
	c.log.Info("continuing as new", "verifications", st.Verifications)
	return workflow.NewContinueAsNewError(ctx, Workflow, next)
}

func neededNames(needed []permissions.Needed) []string {
	out := make([]string, len(needed))
	for i, n := range needed {
		out[i] = n.Permission
	}
	return out
}

// failureMessage is the innermost application error's message: what went
// wrong at Graph, without the activity-error wrapping around it.
func failureMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// codeOf extracts the Graph/AADSTS code from an activity failure.
func codeOf(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.HasDetails() {
		var d activities.GraphErrorDetails
		if appErr.Details(&d) == nil && d.Code != "" {
			return d.Code
		}
		return appErr.Type()
	}
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return ""
}

// codeName is a user's code as people read it: AADSTS and the number, or
// the word itself (no_account, access_denied).
func codeName(code string) string {
	if _, err := strconv.Atoi(code); err == nil {
		return "AADSTS" + code
	}
	return code
}
