// Package schedules keeps each tenant's sync schedule in step with its
// connection: the tenant workflow calls EnsureSyncSchedule whenever what the
// schedule should be (interval, credentials, paused or not) changes. It is a
// package of its own because it names the sync workflow, which itself
// imports package activities.
package schedules

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
)

// Activities holds the schedule activities; Temporal is the worker's client.
type Activities struct {
	Temporal client.Client
}

// EnsureSyncScheduleInput is what the tenant's schedule should be.
type EnsureSyncScheduleInput struct {
	TenantKey         string
	SyncTaskQueue     string
	Every             domain.Duration
	CredentialVersion string
	Paused            bool
	// Why, for operators (shown as the schedule's note in the Web UI):
	// e.g. "tenant is ConsentRevoked".
	Note string
}

// EnsureSyncScheduleResult says what was done.
type EnsureSyncScheduleResult struct {
	Created bool
}

// EnsureSyncSchedule creates the tenant's sync schedule, or updates it in
// place (same ID) to match. Scheduled runs never overlap: a run still going
// when the next is due makes the schedule skip that one.
func (a *Activities) EnsureSyncSchedule(ctx context.Context, in EnsureSyncScheduleInput) (EnsureSyncScheduleResult, error) {
	if in.Every.Std() <= 0 {
		return EnsureSyncScheduleResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("sync interval %s is not positive", in.Every), "InvalidInput", nil)
	}
	id := mailsync.ScheduleID(in.TenantKey)
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: in.Every.Std()}}}
	action := &client.ScheduleWorkflowAction{
		ID:        mailsync.WorkflowID(in.TenantKey, mailsync.KindScheduled),
		Workflow:  mailsync.WorkflowName,
		TaskQueue: in.SyncTaskQueue,
		Args: []any{mailsync.Input{
			TenantKey: in.TenantKey, CredentialVersion: in.CredentialVersion, Kind: mailsync.KindScheduled,
		}},
		TypedSearchAttributes: temporal.NewSearchAttributes(
			mailsync.SearchAttrTenant.ValueSet(in.TenantKey), mailsync.SearchAttrKind.ValueSet(mailsync.KindScheduled)),
	}
	_, err := a.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      id,
		Spec:    spec,
		Action:  action,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Paused:  in.Paused,
		Note:    in.Note,
		// The first run right away, so a newly connected tenant is synced
		// without waiting a whole interval.
		TriggerImmediately:    !in.Paused,
		TypedSearchAttributes: temporal.NewSearchAttributes(mailsync.SearchAttrTenant.ValueSet(in.TenantKey)),
	})
	if err == nil {
		return EnsureSyncScheduleResult{Created: true}, nil
	}
	var exists *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &exists) && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return EnsureSyncScheduleResult{}, fmt.Errorf("creating schedule %s: %w", id, err)
	}
	h := a.Temporal.ScheduleClient().GetHandle(ctx, id)
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(cur client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := cur.Description.Schedule
		s.Spec = &spec
		s.Action = action
		if s.State == nil {
			s.State = &client.ScheduleState{}
		}
		s.State.Paused = in.Paused
		s.State.Note = in.Note
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
	if err != nil {
		return EnsureSyncScheduleResult{}, fmt.Errorf("updating schedule %s: %w", id, err)
	}
	return EnsureSyncScheduleResult{}, nil
}
