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

// printViews prints a readable table, one tenant per row.
func (c *cli) printViews(views []tenant.StatusView) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tNAME\tSTATUS\tMISSING\tCODE\tLAST CHECK\tNEXT CHECK\tDETAIL")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			v.TenantKey, dash(v.DisplayName), v.Status, dash(strings.Join(v.Missing, ",")), dash(v.Code),
			when(v.LastCheckedAt), when(v.NextCheckAt), dash(v.Detail))
	}
	return tw.Flush()
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
