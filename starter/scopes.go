package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/permissions"
)

// scopesCommand tells a tenant admin exactly which Graph permissions to grant:
// per configured tenant, each enabled feature and the least-privileged
// permission it needs. It needs only the configuration, not Temporal.
func (c *cli) scopesCommand() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "scopes [--tenant KEY]",
		Short: "List the Graph permissions each tenant's enabled features need (what to grant admin consent for)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(c.configPath, c.environ)
			if err != nil {
				return err
			}
			c.cfg = cfg
			tenants := cfg.Tenants
			if key != "" {
				t, err := c.tenantConfig(key)
				if err != nil {
					return err
				}
				tenants = []config.Tenant{t}
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TENANT\tAUTH\tFEATURE\tPERMISSION\tKIND\tALSO SATISFIED BY")
			for _, t := range tenants {
				delegated := t.AuthMode == config.AuthDelegated
				kind := "Application"
				if delegated {
					kind = "Delegated"
				}
				for _, f := range t.Features {
					reqs, _ := permissions.Required([]string{f}, delegated)
					for _, r := range reqs {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Key, t.AuthMode, f, r.Permission, kind, dash(strings.Join(r.SatisfiedBy, ", ")))
					}
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key (default: every configured tenant)")
	return cmd
}
