package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
)

// EnsureRecipeSchedules gives every loaded schedule recipe a Temporal
// Schedule (interval, or cron in its time zone) that starts a RecipeFire
// per tick on the recipe-run queue, updates the ones that exist, and
// deletes the schedules of recipes that are gone or no longer on a
// schedule. A recipe disabled in its file gets a paused schedule (the
// Web UI shows why). Failures are per recipe: logged, and the rest go on.
//
// Only schedules of tenants this worker serves are dropped: workers with
// other tenants may share the namespace.
func EnsureRecipeSchedules(ctx context.Context, c client.Client, tenants []string, recipes []*recipe.Recipe, taskQueue string, log *zap.Logger) error {
	want := map[string]*recipe.Recipe{}
	for _, r := range recipes {
		if r.Trigger.Kind == recipe.TriggerSchedule {
			want[reciperun.ScheduleID(r.Tenant, r.Name)] = r
		}
	}
	var errs []error
	for id, r := range want {
		if err := ensureRecipeSchedule(ctx, c, id, r, taskQueue); err != nil {
			log.Error("recipe schedule not set", zap.String("tenant", r.Tenant), zap.String("recipe", r.Name), zap.String("file", r.File), zap.Error(err))
			errs = append(errs, fmt.Errorf("recipe %s (%s): %w", r.Name, r.File, err))
		}
	}
	it, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 200})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing schedules: %w", err))...)
	}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			errs = append(errs, fmt.Errorf("listing schedules: %w", err))
			break
		}
		if !strings.HasPrefix(e.ID, reciperun.ScheduleIDPrefix) || want[e.ID] != nil || !slices.Contains(tenants, scheduleTenant(e)) {
			continue
		}
		if err := c.ScheduleClient().GetHandle(ctx, e.ID).Delete(ctx); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting stale recipe schedule %s: %w", e.ID, err))
			continue
		}
		log.Info("recipe schedule deleted (its recipe is gone or no longer on a schedule)", zap.String("schedule", e.ID))
	}
	return errors.Join(errs...)
}

// scheduleTenant reads a schedule's OutlookflowTenant search attribute.
func scheduleTenant(e *client.ScheduleListEntry) string {
	var key string
	if p := e.SearchAttributes.GetIndexedFields()[reciperun.SearchAttrTenant.GetName()]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &key)
	}
	return key
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

func ensureRecipeSchedule(ctx context.Context, c client.Client, id string, r *recipe.Recipe, taskQueue string) error {
	spec := client.ScheduleSpec{}
	// A tick missed while the server was down is taken late only within
	// this window: a digest an hour late is useful, ten of them are not.
	catchup := time.Hour
	if r.Trigger.Every > 0 {
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: r.Trigger.Every}}
		catchup = min(catchup, max(r.Trigger.Every, 10*time.Second))
	} else {
		spec.CronExpressions = []string{r.Trigger.Cron}
		spec.TimeZoneName = r.Trigger.TimeZone
	}
	note := ""
	if !r.Enabled {
		note = "disabled in " + r.File
	}
	action := &client.ScheduleWorkflowAction{
		ID:            id,
		Workflow:      reciperun.FireWorkflowName,
		TaskQueue:     taskQueue,
		Args:          []any{reciperun.FireInput{Tenant: r.Tenant, Recipe: r.Name}},
		StaticSummary: fmt.Sprintf("schedule tick of recipe %s", r.Name),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			reciperun.SearchAttrTenant.ValueSet(r.Tenant),
			reciperun.SearchAttrRecipe.ValueSet(r.Name),
		),
	}
	policy := client.SchedulePolicies{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: catchup}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:            id,
		Spec:          spec,
		Action:        action,
		Overlap:       policy.Overlap,
		CatchupWindow: policy.CatchupWindow,
		Paused:        !r.Enabled,
		Note:          note,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			reciperun.SearchAttrTenant.ValueSet(r.Tenant),
			reciperun.SearchAttrRecipe.ValueSet(r.Name),
		),
	})
	if err == nil {
		return nil
	}
	var exists *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &exists) && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("creating schedule %s: %w", id, err)
	}
	return c.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(cur client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := cur.Description.Schedule
		s.Spec = &spec
		s.Action = action
		s.Policy = &policy
		if s.State == nil {
			s.State = &client.ScheduleState{}
		}
		s.State.Paused = !r.Enabled
		s.State.Note = note
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
}
