package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
)

// scopesReport is one tenant in `starter scopes`: the minimal permission
// set its sync features and enabled recipes need, set against its grant
// (permissions.Compare, the computation the connection's Missing uses).
type scopesReport struct {
	Tenant      string
	DisplayName string `json:",omitempty"`
	AuthMode    config.AuthMode
	// Kind is what Entra calls the permissions: Application (app-only,
	// token roles) or Delegated (token scopes).
	Kind string
	// Needed is the minimal set, each with what needs it and, when the
	// grant is known, the granted permission that satisfies it.
	Needed []permissions.Needed
	// Recipes are the tenant's loaded recipes, whether each counts and
	// the minimal set each needs alone.
	Recipes []scopesRecipe `json:",omitempty"`
	// GrantKnown says whether Granted, Lacking and Beyond mean anything;
	// GrantUnknown says why not.
	GrantKnown   bool
	GrantUnknown string               `json:",omitempty"`
	Granted      []string             `json:",omitempty"`
	Lacking      []string             `json:",omitempty"`
	Beyond       []permissions.Excess `json:",omitempty"`
	// AdminConsentURL is where the tenant's administrator consents to the
	// permissions configured on the app registration.
	AdminConsentURL string
	// Notes are caveats the counts rest on (the store's switches unread).
	Notes []string `json:",omitempty"`
}

// scopesRecipe is one of a tenant's recipes in the report.
type scopesRecipe struct {
	Name    string
	Enabled bool
	// EnabledBy is what decides Enabled: "its file" or "an operator's
	// switch".
	EnabledBy   string
	Permissions []string
}

// scopesCommand tells a tenant admin exactly which Graph permissions to
// grant, and what to take away: per configured tenant, what each enabled
// feature and recipe needs (least privileged), what the grant the
// connection last saw lacks or holds beyond that, and the admin-consent
// URL. The configuration is enough for the needs; the store adds
// operators' recipe switches, Temporal the grant.
func (c *cli) scopesCommand() *cobra.Command {
	var key string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "scopes [--tenant KEY] [--json]",
		Short: "List the Graph permissions each tenant's features and enabled recipes need, what its grant lacks or holds beyond that, and its admin-consent URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reports, err := c.scopes(key)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.stdout, reports)
			}
			return printScopes(c.stdout, reports)
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key (default: every configured tenant)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (c *cli) scopes(key string) ([]scopesReport, error) {
	// Without the encryption keys (an admin's copy of the configuration)
	// the needs still print; only the grant, which Temporal holds, is lost.
	grantUnknown := ""
	if err := c.loadConfig(); err != nil {
		cfg, cerr := config.Load(c.configPath, c.environ)
		if cerr != nil {
			return nil, cerr
		}
		c.cfg = cfg
		grantUnknown = "the encryption keys are unreadable, so Temporal is not asked (" + firstLine(err.Error()) + ")"
	}
	tenants := c.cfg.Tenants
	if key != "" {
		t, err := c.tenantConfig(key)
		if err != nil {
			return nil, err
		}
		tenants = []config.Tenant{t}
	}
	recipes, diags := app.LoadRecipes(c.cfg)
	if len(diags) > 0 {
		fmt.Fprintf(c.stderr, "%d problem(s) in recipe files keep recipes out of these counts, as the worker leaves them out; `starter recipes validate` names them\n", len(diags))
	}
	var st store.Store
	storeNote := ""
	if len(recipes) > 0 {
		var err error
		if st, err = app.OpenStore(c.ctx, c.cfg.Store); err != nil {
			storeNote = "the store is unreachable (" + firstLine(err.Error()) + "): recipes count as their files say, without operators' switches"
		} else {
			defer st.Close()
		}
	}
	if grantUnknown == "" {
		if err := c.load(); err != nil {
			grantUnknown = "Temporal not reached (" + firstLine(err.Error()) + ")"
		}
	}
	var reports []scopesReport
	for _, t := range tenants {
		rep, err := c.scopesOf(t, recipesOf(recipes, t.Key), st, grantUnknown)
		if err != nil {
			return nil, err
		}
		if storeNote != "" && len(rep.Recipes) > 0 {
			rep.Notes = append(rep.Notes, storeNote)
		}
		reports = append(reports, rep)
	}
	return reports, nil
}

// scopesOf builds one tenant's report.
func (c *cli) scopesOf(t config.Tenant, recipes []*recipe.Recipe, st store.Store, grantUnknown string) (scopesReport, error) {
	delegated := t.AuthMode == config.AuthDelegated
	rep := scopesReport{Tenant: t.Key, DisplayName: t.DisplayName, AuthMode: t.AuthMode, Kind: "Application",
		AdminConsentURL: permissions.AdminConsentURL(c.cfg.Cloud.AuthorityHost, t.TenantID, t.ClientID)}
	if delegated {
		rep.Kind = "Delegated"
	}
	switches := map[string]bool{}
	if st != nil && len(recipes) > 0 {
		var err error
		if switches, err = st.RecipeSwitches(c.ctx, t.Key); err != nil {
			return rep, err
		}
	}
	needs := permissions.FeatureNeeds(t.Features, delegated)
	for _, r := range recipes {
		sr := scopesRecipe{Name: r.Name, Enabled: app.RecipeEnabled(r, switches), EnabledBy: "its file"}
		if _, ok := switches[r.Name]; ok {
			sr.EnabledBy = "an operator's switch"
		}
		own := app.NeedsOf(r, delegated)
		for _, n := range permissions.Minimal(own) {
			sr.Permissions = append(sr.Permissions, n.Permission)
		}
		if sr.Enabled {
			needs = append(needs, own...)
		}
		rep.Recipes = append(rep.Recipes, sr)
	}
	granted, why := c.grantOf(t.Key, grantUnknown)
	cmp := permissions.Compare(needs, granted)
	rep.Needed = cmp.Needed
	if why != "" {
		rep.GrantUnknown = why
		for i := range rep.Needed {
			rep.Needed[i].GrantedAs = ""
		}
		return rep, nil
	}
	rep.GrantKnown, rep.Granted, rep.Lacking, rep.Beyond = true, granted, cmp.Lacking, cmp.Beyond
	return rep, nil
}

// grantOf is the tenant's grant as its connection workflow last verified
// it, or why it is unknown.
func (c *cli) grantOf(key, unknown string) ([]string, string) {
	if unknown != "" {
		return nil, unknown
	}
	view, err := c.queryStatus(key)
	var ee exitError
	switch {
	case errors.As(err, &ee) && ee.code == exitNotFound:
		return nil, fmt.Sprintf("the tenant has no connection workflow yet (`starter connect --tenant %s`)", key)
	case err != nil:
		return nil, "its connection workflow did not answer (" + firstLine(err.Error()) + ")"
	case view.LastVerifiedAt.IsZero():
		return nil, fmt.Sprintf("its credentials were never verified (status %s: %s)", view.Status, dash(view.Detail))
	}
	return view.Granted, ""
}

// printScopes prints one block per tenant: the needed permissions with
// their state and what needs them, then what the grant holds beyond need,
// then the consent URL.
func printScopes(w io.Writer, reports []scopesReport) error {
	for i, rep := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		name := rep.Tenant
		if rep.DisplayName != "" {
			name += " (" + rep.DisplayName + ")"
		}
		fmt.Fprintf(w, "Tenant %s: %s auth, so %s permissions.\n", name, rep.AuthMode, rep.Kind)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PERMISSION\tGRANT\tNEEDED BY")
		for _, n := range rep.Needed {
			state := "?"
			switch {
			case !rep.GrantKnown:
			case n.GrantedAs == "":
				state = "LACKING"
			case n.GrantedAs == n.Permission:
				state = "granted"
			default:
				state = "granted as " + n.GrantedAs
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Permission, state, neededBy(n.By))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		var recipes []string
		for _, r := range rep.Recipes {
			if r.Enabled {
				recipes = append(recipes, r.Name)
			} else {
				recipes = append(recipes, fmt.Sprintf("%s (disabled by %s: not counted)", r.Name, r.EnabledBy))
			}
		}
		if len(recipes) > 0 {
			fmt.Fprintf(w, "Recipes: %s.\n", strings.Join(recipes, ", "))
		}
		switch {
		case !rep.GrantKnown:
			fmt.Fprintf(w, "Grant: unknown: %s.\n", rep.GrantUnknown)
		case len(rep.Lacking) > 0:
			fmt.Fprintf(w, "Lacking: %s. Add them to the app registration's API permissions (%s), then consent.\n", strings.Join(rep.Lacking, ", "), rep.Kind)
		default:
			fmt.Fprintln(w, "Lacking: nothing.")
		}
		if len(rep.Beyond) > 0 {
			fmt.Fprintln(w, "Granted beyond need (remove them from the app registration, then consent again):")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, e := range rep.Beyond {
				fmt.Fprintf(tw, "  %s\t%s\n", e.Permission, e.Reason)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "Note: %s.\n", n)
		}
		fmt.Fprintf(w, "Admin consent: %s\n", rep.AdminConsentURL)
	}
	return nil
}

// neededBy joins what needs a permission, one recipe's parts together:
// "recipe a: trigger newMail, step "x" (move)".
func neededBy(by []string) string {
	var out []string
	last := ""
	for _, b := range by {
		name, part, ok := strings.Cut(b, ": ")
		if !ok || !strings.HasPrefix(name, "recipe ") {
			last = ""
			out = append(out, b)
			continue
		}
		if name == last {
			out[len(out)-1] += ", " + part
			continue
		}
		last = name
		out = append(out, b)
	}
	return strings.Join(out, "; ")
}
