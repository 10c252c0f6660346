package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// Starting a workflow that already runs returns the running one: connect is idempotent.
const enumsUseExisting = enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING

func initialSearchAttributes(key string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		tenant.SearchAttrTenant.ValueSet(key),
		tenant.SearchAttrStatus.ValueSet(string(tenant.StatusVerifying)),
	)
}

// printViews prints a readable table, one tenant per row. DETAIL says, in
// this order, why the tenant is paused, how a running check is doing, and
// what the status means.
func (c *cli) printViews(rows []statusRow) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tNAME\tSTATUS\tMISSING\tCODE\tLAST CHECK\tNEXT CHECK\tDETAIL")
	for _, r := range rows {
		next := when(r.NextCheckAt)
		if r.CheckInProgress || r.Check != nil {
			next = "checking now"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.TenantKey, dash(r.DisplayName), r.Status, dash(strings.Join(r.Missing, ",")), dash(r.Code),
			when(r.LastCheckedAt), next, dash(r.detail()))
	}
	return tw.Flush()
}

func (r statusRow) detail() string {
	var parts []string
	if r.Paused {
		reason := r.PauseReason
		if reason == "" {
			reason = "no reason given"
		}
		parts = append(parts, "paused: "+oneLine(reason))
	}
	switch {
	case r.Check != nil:
		parts = append(parts, r.Check.String())
	case r.CheckInProgress:
		parts = append(parts, fmt.Sprintf("check running since %s (%s)", when(r.CheckStartedAt), time.Since(r.CheckStartedAt).Round(time.Second)))
	}
	if r.Detail != "" {
		parts = append(parts, r.Detail)
	}
	return strings.Join(parts, "; ")
}

// oneLine keeps operator-typed text from breaking the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
