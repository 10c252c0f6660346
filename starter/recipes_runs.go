package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/outlookflow/outlookflow/workflows/reciperun"
)

// runStatuses are the values OutlookflowRunStatus takes, which --status
// filters on.
var runStatuses = []string{reciperun.StatusRunning, reciperun.StatusWaiting, reciperun.StatusCompleted, reciperun.StatusFailed, reciperun.StatusSkipped}

// recipeRunRow is one run as `recipes runs` lists it.
type recipeRunRow struct {
	WorkflowID string
	Tenant     string
	Recipe     string
	// Status is the run's own status (OutlookflowRunStatus: Running,
	// Waiting, Completed, Failed, Skipped), or Temporal's when the run was
	// ended from outside (Terminated, Canceled, TimedOut).
	Status    string
	StartedAt time.Time
	ClosedAt  time.Time `json:",omitzero"`
}

// recipesRunsCommand lists recipe runs from Temporal's visibility store,
// newest first: it needs no worker and no store.
func (c *cli) recipesRunsCommand() *cobra.Command {
	var key, name, status string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "runs [--recipe NAME] [--tenant KEY] [--status S] [--limit 50] [--json]",
		Short: "List recipe runs from Temporal, newest first: workflow ID, recipe, status, start and close",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit <= 0 {
				return usageError{fmt.Errorf("--limit must be a positive number of runs, not %d", limit)}
			}
			if status != "" {
				canonical := ""
				for _, s := range runStatuses {
					if strings.EqualFold(s, status) {
						canonical = s
					}
				}
				if canonical == "" {
					return usageError{fmt.Errorf("--status %q is not a run status; use one of %s", status, strings.Join(runStatuses, ", "))}
				}
				status = canonical
			}
			if err := c.load(); err != nil {
				return err
			}
			if key != "" {
				if _, err := c.tenantConfig(key); err != nil {
					return err
				}
			}
			rows, err := c.listRecipeRuns(runsQuery(key, name, status), limit)
			if err != nil {
				return err
			}
			if asJSON {
				if rows == nil {
					rows = []recipeRunRow{}
				}
				return printJSON(c.stdout, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(c.stderr, "No recipe runs match.")
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WORKFLOW ID\tTENANT\tRECIPE\tSTATUS\tSTART\tCLOSE")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.WorkflowID, r.Tenant, r.Recipe, r.Status, when(r.StartedAt), when(r.ClosedAt))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(rows) == limit {
				fmt.Fprintf(c.stderr, "Showing the newest %d; --limit shows more.\n", limit)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "recipe", "", "only this recipe's runs")
	cmd.Flags().StringVar(&key, "tenant", "", "only this tenant's runs")
	cmd.Flags().StringVar(&status, "status", "", "only runs in this status: "+strings.Join(runStatuses, ", "))
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many runs, newest first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// runsQuery is the visibility query for recipe runs with the given search
// attributes ("" leaves one out).
func runsQuery(tenantKey, recipeName, status string) string {
	parts := []string{fmt.Sprintf("WorkflowType = %q", reciperun.WorkflowName)}
	for _, f := range []struct {
		key   temporal.SearchAttributeKeyKeyword
		value string
	}{{reciperun.SearchAttrTenant, tenantKey}, {reciperun.SearchAttrRecipe, recipeName}, {reciperun.SearchAttrStatus, status}} {
		if f.value != "" {
			parts = append(parts, fmt.Sprintf("%s = %q", f.key.GetName(), f.value))
		}
	}
	return strings.Join(parts, " AND ")
}

// listRecipeRuns pages through visibility until limit runs.
func (c *cli) listRecipeRuns(query string, limit int) ([]recipeRunRow, error) {
	var rows []recipeRunRow
	var token []byte
	for len(rows) < limit {
		resp, err := c.temporal.ListWorkflow(c.ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, PageSize: int32(min(limit-len(rows), 1000)), NextPageToken: token})
		if err != nil {
			return nil, c.temporalError("listing recipe runs", err)
		}
		for _, e := range resp.GetExecutions() {
			if len(rows) < limit {
				rows = append(rows, runRow(e))
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	return rows, nil
}

func runRow(e *workflowpb.WorkflowExecutionInfo) recipeRunRow {
	sa := e.GetSearchAttributes()
	r := recipeRunRow{
		WorkflowID: e.GetExecution().GetWorkflowId(),
		Tenant:     keyword(sa, reciperun.SearchAttrTenant),
		Recipe:     keyword(sa, reciperun.SearchAttrRecipe),
		Status:     runStatus(e.GetStatus(), keyword(sa, reciperun.SearchAttrStatus)),
	}
	if t := e.GetStartTime(); t != nil {
		r.StartedAt = t.AsTime()
	}
	if t := e.GetCloseTime(); t != nil {
		r.ClosedAt = t.AsTime()
	}
	return r
}

// runStatus is the run's own status while Temporal agrees it ran its
// course, and Temporal's when the run was ended from outside.
func runStatus(execution enumspb.WorkflowExecutionStatus, own string) string {
	switch execution {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		if own != "" {
			return own
		}
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return reciperun.StatusFailed
	}
	// Terminated, Canceled, TimedOut…: "WORKFLOW_EXECUTION_STATUS_TIMED_OUT" → "TimedOut".
	words := strings.Split(strings.ToLower(strings.TrimPrefix(execution.String(), "WORKFLOW_EXECUTION_STATUS_")), "_")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, "")
}

// keyword reads a Keyword search attribute ("" when unset). Search
// attributes are never encrypted, so the default converter reads them.
func keyword(sa *commonpb.SearchAttributes, key temporal.SearchAttributeKeyKeyword) string {
	p := sa.GetIndexedFields()[key.GetName()]
	if p == nil {
		return ""
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
		return ""
	}
	return s
}
