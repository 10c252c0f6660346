package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// RunStarter starts recipe runs on Temporal: the workflow ID is the run's
// key, rejected if it ever ran, so a repeated dispatch starts nothing.
type RunStarter struct {
	Client    client.Client
	TaskQueue string
}

// StartRun implements activities.RunStarter.
func (s RunStarter) StartRun(ctx context.Context, st activities.RunStart) (bool, error) {
	in := reciperun.Input{Tenant: st.Tenant, Recipe: st.Recipe, RunID: st.RunID, Mailbox: st.Mailbox, Trigger: st.Trigger,
		ChangeKey: st.ChangeKey, Recheck: st.Recheck}
	if st.Def != nil {
		in.Digest = st.Def.Digest
		in.Steps = reciperun.Plan(st.Def.Steps)
	}
	opts := client.StartWorkflowOptions{
		ID:                       st.RunID,
		TaskQueue:                s.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the SDK hides the rejection and hands back the old
		// run, and a repeat would count (and log) as a start.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StartDelay:                               st.Delay,
		StaticSummary:                            fmt.Sprintf("recipe %s (%s)", st.Recipe, st.Trigger),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			reciperun.SearchAttrTenant.ValueSet(st.Tenant),
			reciperun.SearchAttrRecipe.ValueSet(st.Recipe),
			reciperun.SearchAttrStatus.ValueSet(reciperun.StatusRunning),
		),
	}
	_, err := s.Client.ExecuteWorkflow(ctx, opts, reciperun.WorkflowName, in)
	if activities.IsAlreadyStarted(err) {
		return false, nil
	}
	return err == nil, err
}

// Skipped implements activities.RunStarter: the run's own record on the
// server (describe, not visibility, which may lag), its closing status
// search attribute.
func (s RunStarter) Skipped(ctx context.Context, runID string) (bool, error) {
	d, err := s.Client.DescribeWorkflowExecution(ctx, runID, "")
	if activities.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	info := d.GetWorkflowExecutionInfo()
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return false, nil
	}
	p := info.GetSearchAttributes().GetIndexedFields()[reciperun.SearchAttrStatus.GetName()]
	if p == nil {
		return false, nil
	}
	var status string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &status); err != nil {
		return false, fmt.Errorf("run %s: reading its status: %w", runID, err)
	}
	return status == reciperun.StatusSkipped, nil
}

// SignalReply implements activities.RunStarter.
func (s RunStarter) SignalReply(ctx context.Context, runID, messageID string, at time.Time) (bool, error) {
	err := s.Client.SignalWorkflow(ctx, runID, "", reciperun.SignalReply, reciperun.ReplySignal{MessageID: messageID, ReceivedAt: at})
	if activities.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// TenantGate reads a tenant's connection status from its workflow: recipe
// actions run while it is Connected (or MissingPermissions, where Graph's
// own 403 says what is missing) and are held otherwise. Answers are kept
// for TTL: every step of every run asks, and a query is a task on the
// tenant's one workflow, so without the cache a burst of runs queues
// behind it. A pause or a new secret is seen at most TTL late.
type TenantGate struct {
	Client client.Client
	TTL    time.Duration

	mu    sync.Mutex
	cache map[string]gateAnswer
}

type gateAnswer struct {
	at            time.Time
	version, held string
}

// Gate implements activities.TenantGate.
func (g *TenantGate) Gate(ctx context.Context, key string) (string, string, error) {
	now := time.Now()
	g.mu.Lock()
	if a, ok := g.cache[key]; ok && now.Sub(a.at) < g.TTL {
		g.mu.Unlock()
		return a.version, a.held, nil
	}
	g.mu.Unlock()
	version, held, err := g.ask(ctx, key)
	if err != nil {
		return "", "", err
	}
	g.mu.Lock()
	if g.cache == nil {
		g.cache = map[string]gateAnswer{}
	}
	g.cache[key] = gateAnswer{at: now, version: version, held: held}
	g.mu.Unlock()
	return version, held, nil
}

func (g *TenantGate) ask(ctx context.Context, key string) (string, string, error) {
	v, err := g.Client.QueryWorkflow(ctx, tenant.WorkflowID(key), "", tenant.QueryStatus)
	if activities.IsNotFound(err) {
		return "", "not connected (no tenant workflow: run `starter connect`)", nil
	}
	if err != nil {
		return "", "", err
	}
	var view tenant.StatusView
	if err := v.Get(&view); err != nil {
		return "", "", err
	}
	switch {
	case view.Paused:
		return view.CredentialVersion, string(tenant.StatusPaused), nil
	case view.Status == tenant.StatusConnected, view.Status == tenant.StatusMissingPermissions:
		return view.CredentialVersion, "", nil
	}
	return view.CredentialVersion, string(view.Status), nil
}

// LoadRecipes loads the configured recipe directory, checking each recipe
// against its tenant; invalid files are returned as diagnostics (the worker
// logs them and serves the valid ones). No directory configured: none.
func LoadRecipes(cfg *config.Config) ([]*recipe.Recipe, []recipe.Diagnostic) {
	if cfg.Recipes.Dir == "" {
		return nil, nil
	}
	return recipe.LoadDir(cfg.Recipes.Dir, RecipeOptions(cfg))
}

// RecipeOptions checks recipes against the configured tenants: each
// recipe's tenant must be configured, and its actions possible in that
// tenant's auth mode. The grant is not known here (the connection workflow
// holds it), so permissions are left to Graph's answer and `starter scopes`.
// A summarize step may name only a configured summarizer (or builtin).
func RecipeOptions(cfg *config.Config) recipe.Options {
	opts := recipe.Options{Tenants: map[string]recipe.Grant{}, Summarizers: summarizerNames(cfg.Recipes)}
	for _, t := range cfg.Tenants {
		opts.Tenants[t.Key] = recipe.Grant{Delegated: t.AuthMode == config.AuthDelegated}
	}
	return opts
}
