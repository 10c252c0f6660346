package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/tenant"
	"github.com/outlookflow/outlookflow/workflows/user"
)

// RecipeNeeds tells tenant connections what their enabled recipes need, so
// a connection compares its grant with the recipes' needs as well as its
// features'. Two ways, for two moments: Announce signals every running
// connection once the worker has loaded its recipes (a changed recipe shows
// at once), and each credential check asks RecipeNeeds (a tenant connected
// later, a recipe switched since).
type RecipeNeeds struct {
	Store   store.Store
	Tenants []config.Tenant
	// Book is the loaded recipes; set by Announce, before the worker
	// starts.
	Book *activities.RecipeBook
	Log  *zap.Logger
}

var _ activities.RecipeNeedsSource = (*RecipeNeeds)(nil)

// announceTimeout bounds telling every tenant at start: a slow server must
// not hold the worker back, and each check brings the needs anyway.
const announceTimeout = 15 * time.Second

// RecipeNeeds implements activities.RecipeNeedsSource: the needs of the
// tenant's loaded recipes that are enabled, operators' switches applied.
func (n *RecipeNeeds) RecipeNeeds(ctx context.Context, tenantKey string) ([]permissions.Need, error) {
	recipes := n.Book.Tenant(tenantKey)
	if len(recipes) == 0 {
		return nil, nil
	}
	switches, err := n.Store.RecipeSwitches(ctx, tenantKey)
	if err != nil {
		return nil, err
	}
	return EnabledRecipeNeeds(recipes, switches, n.delegated(tenantKey)), nil
}

// Announce takes the loaded recipes and signals each configured tenant's
// connection workflow what its enabled recipes need. A tenant not
// connected yet is skipped (its first check asks); other failures are
// logged, not fatal: the next check corrects them.
func (n *RecipeNeeds) Announce(c client.Client, book *activities.RecipeBook) {
	n.Book = book
	ctx, cancel := context.WithTimeout(context.Background(), announceTimeout)
	defer cancel()
	for _, t := range n.Tenants {
		needs, err := n.RecipeNeeds(ctx, t.Key)
		if err == nil {
			err = SignalRecipeNeeds(ctx, c, t, needs)
		}
		switch {
		case activities.IsNotFound(err):
		case err != nil:
			n.Log.Warn("could not tell the tenant's connection what its recipes need; its next check will", zap.String("tenant", t.Key), zap.Error(err))
		default:
			n.Log.Info("told the tenant's connection what its recipes need", zap.String("tenant", t.Key), zap.Int("needs", len(needs)))
		}
	}
}

func (n *RecipeNeeds) delegated(key string) bool {
	for _, t := range n.Tenants {
		if t.Key == key {
			return t.AuthMode == config.AuthDelegated
		}
	}
	return false
}

// SignalRecipeNeeds tells a tenant's connection workflow what its enabled
// recipes need (the worker at start; `starter recipes enable|disable`).
// On a delegated tenant each signed-in user's connection is told too
// (features' and recipes' needs together), so a user who never consented
// to what a newly enabled recipe needs shows MissingScopes at once rather
// than at the recipe's first 403.
func SignalRecipeNeeds(ctx context.Context, c client.Client, t config.Tenant, needs []permissions.Need) error {
	err := c.SignalWorkflow(ctx, tenant.WorkflowID(t.Key), "", tenant.SignalRecipeNeeds, tenant.RecipeNeedsSignal{Needs: needs})
	if err != nil || t.AuthMode != config.AuthDelegated {
		return err
	}
	users, err := runningUserConnections(ctx, c, t.Key)
	if err != nil {
		return fmt.Errorf("listing the tenant's user connections: %w", err)
	}
	changed := user.NeedsChanged{Needed: append(DelegatedNeeds(t), needs...)}
	for _, id := range users {
		// A connection that ended meanwhile is told at its next sign-in.
		if err := c.SignalWorkflow(ctx, id, "", user.SignalNeeds, changed); err != nil && !activities.IsNotFound(err) {
			return fmt.Errorf("telling user connection %s: %w", id, err)
		}
	}
	return nil
}

// runningUserConnections lists the workflow IDs of a tenant's running user
// connections, those in one of statuses when any are given.
func runningUserConnections(ctx context.Context, c client.Client, tenantKey string, statuses ...user.Status) ([]string, error) {
	query := fmt.Sprintf("WorkflowType = '%s' AND %s = '%s' AND ExecutionStatus = 'Running'",
		user.ConnectionWorkflowName, tenant.SearchAttrTenant.GetName(), tenantKey)
	if len(statuses) > 0 {
		quoted := make([]string, len(statuses))
		for i, st := range statuses {
			quoted[i] = "'" + string(st) + "'"
		}
		query += fmt.Sprintf(" AND %s IN (%s)", tenant.SearchAttrStatus.GetName(), strings.Join(quoted, ", "))
	}
	var ids []string
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.Executions {
			ids = append(ids, e.Execution.WorkflowId)
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return ids, nil
		}
	}
}

// RecipeEnabled is whether r runs: an operator's switch (store) wins over
// the file's enabled.
func RecipeEnabled(r *recipe.Recipe, switches map[string]bool) bool {
	if on, ok := switches[r.Name]; ok {
		return on
	}
	return r.Enabled
}

// EnabledRecipeNeeds lists what the enabled recipes among recipes need in
// the tenant's auth mode, each By naming the recipe and its part.
func EnabledRecipeNeeds(recipes []*recipe.Recipe, switches map[string]bool, delegatedAuth bool) []permissions.Need {
	var out []permissions.Need
	for _, r := range recipes {
		if RecipeEnabled(r, switches) {
			out = append(out, NeedsOf(r, delegatedAuth)...)
		}
	}
	return out
}

// NeedsOf is recipe.Needs as permissions.Need, By "recipe NAME: PART".
// Parts Graph cannot do in the auth mode name no permission and are left
// out: validation refuses such recipes before they load.
func NeedsOf(r *recipe.Recipe, delegatedAuth bool) []permissions.Need {
	var out []permissions.Need
	for _, n := range recipe.Needs(r, delegatedAuth) {
		if n.Unsupported != "" || n.Permission == "" {
			continue
		}
		out = append(out, permissions.Need{Requirement: n.Requirement, By: "recipe " + r.Name + ": " + n.By, Note: n.Note})
	}
	return out
}
