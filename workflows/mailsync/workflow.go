package mailsync

import (
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
)

// a is the nil handle through which the workflow names its activities.
var a *activities.Sync

// Workflow is one sync run of a tenant.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	if in.TenantKey == "" {
		return Result{}, temporal.NewNonRetryableApplicationError("tenant key is required", "InvalidInput", nil)
	}
	if in.BatchSize <= 0 {
		in.BatchSize = DefaultBatchSize
	}
	if in.Parallel <= 0 {
		in.Parallel = DefaultParallel
	}
	if in.Kind == "" {
		in.Kind = KindManual
	}
	r := &run{in: in, log: log.With(workflow.GetLogger(ctx), "tenant", in.TenantKey)}
	r.progress.TenantKey = in.TenantKey
	return r.run(ctx)
}

type run struct {
	in       Input
	log      log.Logger
	progress Progress
	failures []FolderFailure
}

// syncActivityOptions: pages commit with their cursors, so a retried
// activity resumes where its predecessor stopped; heartbeats notice a dead
// worker within seconds; retries are bounded in time, Retry-After included.
var syncActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    2 * time.Hour,
	HeartbeatTimeout:       30 * time.Second,
	ScheduleToCloseTimeout: 6 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        5 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        2 * time.Minute,
		NonRetryableErrorTypes: []string{string(activities.KindMisconfigured), string(activities.KindForbidden), string(activities.KindConsentRevoked), "UnknownMailbox"},
	},
}

func (r *run) run(ctx workflow.Context) (Result, error) {
	if err := workflow.SetQueryHandler(ctx, QueryProgress, r.query); err != nil {
		return Result{}, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrTenant.ValueSet(r.in.TenantKey), SearchAttrKind.ValueSet(r.in.Kind)); err != nil {
		return Result{}, err
	}
	actx := workflow.WithActivityOptions(ctx, syncActivityOptions)

	r.progress.Phase = "directory"
	var dir activities.SyncDirectoryResult
	if err := workflow.ExecuteActivity(actx, a.SyncDirectory, activities.SyncDirectoryInput{
		TenantKey: r.in.TenantKey, CredentialVersion: r.in.CredentialVersion,
	}).Get(ctx, &dir); err != nil {
		return r.result(), err
	}
	r.progress.Users = dir.Changed
	r.progress.Groups = dir.GroupsChanged
	r.progress.Pages += dir.Pages

	r.progress.Phase = "mailboxes"
	// Version 1 plans at most Parallel batches below the size cap (fewer
	// activities, so fewer Temporal actions a cycle); runs started before
	// keep the plan they began with.
	planV := workflow.GetVersion(ctx, "batch-plan", workflow.DefaultVersion, 1)
	batches := r.plan(dir.Mailboxes, planV)
	r.progress.Batches = len(batches)
	if r.in.Mailbox != "" {
		r.progress.MailboxesTotal = 1
	} else {
		r.progress.MailboxesTotal = dir.Mailboxes
	}
	if err := r.runBatches(actx, batches); err != nil {
		return r.result(), err
	}
	r.progress.Phase = "done"
	r.log.Info("sync run finished", "mailboxes", r.progress.MailboxesDone, "items", r.progress.Items, "failures", r.progress.Failures)
	return r.result(), nil
}

// plan splits the mailboxes into batch inputs.
func (r *run) plan(mailboxes int, version workflow.Version) []activities.SyncMailboxesInput {
	base := activities.SyncMailboxesInput{TenantKey: r.in.TenantKey, CredentialVersion: r.in.CredentialVersion}
	if r.in.Mailbox != "" {
		base.Mailbox = r.in.Mailbox
		return []activities.SyncMailboxesInput{base}
	}
	// Temporal actions grow with batches, not mailboxes: a tenant gets
	// Parallel batches (all running at once) until they reach BatchSize,
	// then batches of BatchSize. Version 0 cut small tenants into about
	// four rounds of Parallel, which cost actions for a finer progress bar.
	rounds := 1
	if version == workflow.DefaultVersion {
		rounds = 4
	}
	size := min(r.in.BatchSize, max(1, (mailboxes+r.in.Parallel*rounds-1)/(r.in.Parallel*rounds)))
	var out []activities.SyncMailboxesInput
	for off := 0; off < mailboxes; off += size {
		b := base
		b.Offset, b.Limit = off, size
		out = append(out, b)
	}
	return out
}

// runBatches runs at most Parallel batches at once and stops at the first
// failure after the running ones finish (their pages are saved either way).
func (r *run) runBatches(ctx workflow.Context, batches []activities.SyncMailboxesInput) error {
	var firstErr error
	running := 0
	next := 0
	sel := workflow.NewSelector(ctx)
	for next < len(batches) || running > 0 {
		for firstErr == nil && next < len(batches) && running < r.in.Parallel {
			f := workflow.ExecuteActivity(ctx, a.SyncMailboxes, batches[next])
			next++
			running++
			sel.AddFuture(f, func(f workflow.Future) {
				running--
				var res activities.SyncMailboxesResult
				if err := f.Get(ctx, &res); err != nil {
					if firstErr == nil {
						firstErr = err
					}
					return
				}
				r.record(res)
			})
		}
		if running == 0 {
			break
		}
		sel.Select(ctx)
	}
	return firstErr
}

func (r *run) record(res activities.SyncMailboxesResult) {
	r.progress.BatchesDone++
	r.progress.MailboxesDone += res.Mailboxes
	r.progress.Pages += res.Pages
	r.progress.Items += res.Inserted + res.Updated + res.Deleted
	r.progress.Events += res.Events
	r.progress.Contacts += res.Contacts
	r.progress.Failures += len(res.Failures)
	for _, f := range res.Failures {
		r.failures = append(r.failures, FolderFailure{Mailbox: f.Mailbox, Folder: f.Folder, Reason: f.Reason})
	}
}

func (r *run) query() (Progress, error) { return r.progress, nil }

func (r *run) result() Result {
	return Result{Progress: r.progress, FailedFolders: r.failures}
}
