package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/user"
)

// scopesReport is one tenant in `starter scopes`: the minimal permission
// set its sync features and enabled recipes need, in either auth mode side
// by side, set against its grant (permissions.Compare, the computation the
// connection's Missing uses): the app's roles for an app-only tenant, each
// connected user's consent for a delegated one.
type scopesReport struct {
	Tenant      string
	DisplayName string `json:",omitempty"`
	AuthMode    config.AuthMode
	// Kind is what Entra calls the permissions its AuthMode uses:
	// Application (app-only, token roles) or Delegated (token scopes).
	Kind string
	// Needed is the minimal set of Kind (Application or Delegated below),
	// each with what needs it and, when the grant is known, the granted
	// permission that satisfies it.
	Needed []permissions.Needed
	// Application and Delegated are the minimal sets in each auth mode,
	// whichever the tenant uses: the application permissions of the
	// features and enabled recipes, and the delegated ones plus User.Read
	// (sign-in), what each user consents to.
	Application []permissions.Needed
	Delegated   []permissions.Needed
	// ApplicationImpossible and DelegatedImpossible are the enabled
	// recipes' parts Graph cannot do in that auth mode ("recipe NAME:
	// PART: why").
	ApplicationImpossible []string `json:",omitempty"`
	DelegatedImpossible   []string `json:",omitempty"`
	// Recipes are the tenant's loaded recipes, whether each counts and
	// the minimal set each needs alone.
	Recipes []scopesRecipe `json:",omitempty"`
	// GrantKnown says whether Granted, Lacking and Beyond mean anything;
	// GrantUnknown says why not. They are the app's grant (token roles):
	// a delegated tenant's grant is each user's (Users).
	GrantKnown   bool
	GrantUnknown string               `json:",omitempty"`
	Granted      []string             `json:",omitempty"`
	Lacking      []string             `json:",omitempty"`
	Beyond       []permissions.Excess `json:",omitempty"`
	// Users are a delegated tenant's connected users, each one's consent
	// set against Delegated; UsersKnown says whether the list means
	// anything (Temporal answered), UsersUnknown why not.
	Users        []scopesUser `json:",omitempty"`
	UsersKnown   bool         `json:",omitempty"`
	UsersUnknown string       `json:",omitempty"`
	// AdminConsentURL is where the tenant's administrator consents to the
	// permissions configured on the app registration.
	AdminConsentURL string
	// UserConsentURL asks one user's consent to UserConsentScopes (the
	// Delegated set as full URIs of the cloud's Graph resource, plus
	// openid profile offline_access), on the configured redirect URL:
	// for delegated tenants, and app-only ones with a redirect URL.
	// `starter connect-user` is what connects a user (PKCE and state).
	UserConsentURL    string   `json:",omitempty"`
	UserConsentScopes []string `json:",omitempty"`
	// Notes are caveats the counts rest on (the store's switches unread).
	Notes []string `json:",omitempty"`
}

// scopesRecipe is one of a tenant's recipes in the report.
type scopesRecipe struct {
	Name    string
	Enabled bool
	// EnabledBy is what decides Enabled: "its file" or "an operator's
	// switch".
	EnabledBy string
	// Permissions is the minimal set the recipe needs in the tenant's
	// auth mode; Application and Delegated in each.
	Permissions []string
	Application []string `json:",omitempty"`
	Delegated   []string `json:",omitempty"`
}

// scopesUser is one connected user of a delegated tenant: their consented
// scopes against the tenant's Delegated set.
type scopesUser struct {
	Username string `json:",omitempty"`
	ObjectID string
	Status   user.Status
	Scopes   []string `json:",omitempty"`
	// Lacking are the Delegated permissions the user's consent does not
	// satisfy; Beyond what they consented to beyond need.
	Lacking []string             `json:",omitempty"`
	Beyond  []permissions.Excess `json:",omitempty"`
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
	// Both modes' needs: the application permissions of the features, and
	// what a delegated user consents to (User.Read for sign-in and the
	// features' delegated scopes, as `starter connect-user` asks).
	appNeeds := permissions.FeatureNeeds(t.Features, false)
	delNeeds := app.DelegatedNeeds(t)
	for _, r := range recipes {
		sr := scopesRecipe{Name: r.Name, Enabled: app.RecipeEnabled(r, switches), EnabledBy: "its file"}
		if _, ok := switches[r.Name]; ok {
			sr.EnabledBy = "an operator's switch"
		}
		ownApp, ownDel := app.NeedsOf(r, false), app.NeedsOf(r, true)
		sr.Application, sr.Delegated = permissionNames(ownApp), permissionNames(ownDel)
		sr.Permissions = sr.Application
		if delegated {
			sr.Permissions = sr.Delegated
		}
		if sr.Enabled {
			appNeeds = append(appNeeds, ownApp...)
			delNeeds = append(delNeeds, ownDel...)
			rep.ApplicationImpossible = append(rep.ApplicationImpossible, impossibleParts(r, false)...)
			rep.DelegatedImpossible = append(rep.DelegatedImpossible, impossibleParts(r, true)...)
		}
		rep.Recipes = append(rep.Recipes, sr)
	}
	rep.Application, rep.Delegated = permissions.Minimal(appNeeds), permissions.Minimal(delNeeds)
	if delegated || t.Delegated.RedirectURL != "" {
		rep.UserConsentScopes = permissions.UserConsentScopes(permissions.GraphResource(c.cfg.Cloud.GraphScope), permissionNames(delNeeds))
		if t.Delegated.RedirectURL != "" {
			rep.UserConsentURL = permissions.UserConsentURL(c.cfg.Cloud.AuthorityHost, t.TenantID, t.ClientID, t.Delegated.RedirectURL, rep.UserConsentScopes)
		} else {
			rep.Notes = append(rep.Notes, "no per-user consent URL: tenants[].delegated.redirectURL is not set (nor derivable from a loopback http.listen)")
		}
	}
	if delegated {
		// The grant is each user's consent, not the app's roles.
		rep.Needed = permissions.Minimal(delNeeds)
		rep.GrantUnknown = "a delegated tenant's grant is each user's consent (Users)"
		c.usersOf(&rep, t.Key, delNeeds, grantUnknown)
		return rep, nil
	}
	granted, why := c.grantOf(t.Key, grantUnknown)
	cmp := permissions.Compare(appNeeds, granted)
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

// usersOf sets each connected user's consent against the delegated needs,
// or says in the notes why it cannot.
func (c *cli) usersOf(rep *scopesReport, key string, needs []permissions.Need, unknown string) {
	if unknown != "" {
		rep.UsersUnknown = unknown
		rep.Notes = append(rep.Notes, "users' consent unknown: "+unknown)
		return
	}
	views, err := c.userViews(key)
	if err != nil {
		rep.UsersUnknown = "Temporal did not list the tenant's users (" + firstLine(err.Error()) + ")"
		rep.Notes = append(rep.Notes, "users' consent unknown: "+rep.UsersUnknown)
		return
	}
	rep.UsersKnown = true
	if len(views) == 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("no user has connected yet, so no consent to compare (`starter connect-user --tenant %s --user UPN`)", key))
		return
	}
	sort.Slice(views, func(i, j int) bool { return views[i].Username+views[i].ObjectID < views[j].Username+views[j].ObjectID })
	for _, v := range views {
		cmp := permissions.Compare(needs, v.Scopes)
		rep.Users = append(rep.Users, scopesUser{Username: v.Username, ObjectID: v.ObjectID, Status: v.Status,
			Scopes: v.Scopes, Lacking: cmp.Lacking, Beyond: cmp.Beyond})
	}
}

// permissionNames is the minimal set of needs, by name.
func permissionNames(needs []permissions.Need) []string {
	var out []string
	for _, n := range permissions.Minimal(needs) {
		out = append(out, n.Permission)
	}
	return out
}

// impossibleParts are r's parts Graph cannot do in the auth mode.
func impossibleParts(r *recipe.Recipe, delegatedAuth bool) []string {
	var out []string
	for _, n := range recipe.Needs(r, delegatedAuth) {
		if n.Unsupported != "" {
			out = append(out, "recipe "+r.Name+": "+n.By+": "+n.Unsupported)
		}
	}
	return out
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

// printScopes prints one block per tenant: the application and delegated
// minimal sets side by side (the one the tenant uses marked *, with its
// grant state) and what needs them, then what the grant lacks and holds
// beyond need (the app's, or each user's), then the consent URLs.
func printScopes(w io.Writer, reports []scopesReport) error {
	for i, rep := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		name := rep.Tenant
		if rep.DisplayName != "" {
			name += " (" + rep.DisplayName + ")"
		}
		other := "Delegated"
		if rep.Kind == "Delegated" {
			other = "Application"
		}
		fmt.Fprintf(w, "Tenant %s: %s auth, so %s permissions (marked *; %s beside them).\n", name, rep.AuthMode, rep.Kind, other)
		if err := printScopesTable(w, rep); err != nil {
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
		for _, p := range rep.ApplicationImpossible {
			fmt.Fprintf(w, "Not possible with Application permissions: %s.\n", p)
		}
		for _, p := range rep.DelegatedImpossible {
			fmt.Fprintf(w, "Not possible with Delegated permissions: %s.\n", p)
		}
		if rep.Kind == "Delegated" {
			if err := printScopesUsers(w, rep); err != nil {
				return err
			}
		} else {
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
				if err := printExcess(w, "  ", rep.Beyond); err != nil {
					return err
				}
			}
		}
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "Note: %s.\n", n)
		}
		fmt.Fprintf(w, "Admin consent: %s\n", rep.AdminConsentURL)
		if rep.UserConsentURL != "" {
			fmt.Fprintf(w, "User consent: %s\n", rep.UserConsentURL)
			fmt.Fprintln(w, "  (asks one user's consent to exactly the Delegated set plus openid profile offline_access, for")
			fmt.Fprintln(w, "  an admin to review or grant it on the user's behalf; `starter connect-user` is what connects")
			fmt.Fprintln(w, "  a user: it adds PKCE and state and keeps their token)")
		}
	}
	return nil
}

// printScopesTable prints the two minimal sets side by side, a row per
// permission of the mode in use paired with the other mode's permission
// for the same needs, and the grant state of the one in use.
func printScopesTable(w io.Writer, rep scopesReport) error {
	delegated := rep.Kind == "Delegated"
	inUse, other := rep.Application, rep.Delegated
	if delegated {
		inUse, other = rep.Delegated, rep.Application
	}
	state := map[string]string{} // the in-use permission's GRANT cell
	for _, n := range rep.Needed {
		state[n.Permission] = grantState(rep, n)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if delegated {
		fmt.Fprintln(tw, "PERMISSION(APPLICATION)\tPERMISSION(DELEGATED)*\tGRANT\tNEEDED BY")
	} else {
		fmt.Fprintln(tw, "PERMISSION(APPLICATION)*\tGRANT\tPERMISSION(DELEGATED)\tNEEDED BY")
	}
	otherName := "delegated"
	if delegated {
		otherName = "application"
	}
	for _, row := range pairNeeded(inUse, other) {
		use, alt, by := "-", "-", ""
		cell := "-"
		switch {
		case row.inUse != nil && row.other != nil:
			use, alt = row.inUse.Permission, row.other.Permission
			by = neededBy(row.inUse.By)
			if extra := without(row.other.By, row.inUse.By); len(extra) > 0 {
				by += "; " + otherName + " also: " + neededBy(extra)
			}
		case row.inUse != nil:
			use, by = row.inUse.Permission, neededBy(row.inUse.By)
		default:
			alt, by = row.other.Permission, neededBy(row.other.By)
		}
		if row.inUse != nil {
			cell = state[row.inUse.Permission]
		}
		if delegated {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", alt, use, cell, by)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", use, cell, alt, by)
		}
	}
	return tw.Flush()
}

// grantState is the GRANT cell of a needed permission in use: the app's
// grant, or for a delegated tenant how many connected users consented.
func grantState(rep scopesReport, n permissions.Needed) string {
	if rep.Kind == "Delegated" {
		if !rep.UsersKnown || len(rep.Users) == 0 {
			return "?"
		}
		ok := 0
		for _, u := range rep.Users {
			if !slices.Contains(u.Lacking, n.Permission) {
				ok++
			}
		}
		return fmt.Sprintf("%d/%d users", ok, len(rep.Users))
	}
	switch {
	case !rep.GrantKnown:
		return "?"
	case n.GrantedAs == "":
		return "LACKING"
	case n.GrantedAs == n.Permission:
		return "granted"
	default:
		return "granted as " + n.GrantedAs
	}
}

// printScopesUsers prints each connected user's consent against the
// Delegated set.
func printScopesUsers(w io.Writer, rep scopesReport) error {
	if !rep.UsersKnown || len(rep.Users) == 0 {
		return nil // the notes say why
	}
	fmt.Fprintln(w, "Users (each one's consent is their grant, set against the Delegated set):")
	for _, u := range rep.Users {
		lacking := "lacking nothing"
		if len(u.Lacking) > 0 {
			lacking = "LACKING " + strings.Join(u.Lacking, ", ") + " (they sign in again with `starter connect-user` and consent)"
		}
		fmt.Fprintf(w, "  %s (%s): %s.\n", dash(u.Username), u.Status, lacking)
		if len(u.Beyond) > 0 {
			fmt.Fprintln(w, "    Consented beyond need (an admin can revoke the user's grant; they consent again to less):")
			if err := printExcess(w, "      ", u.Beyond); err != nil {
				return err
			}
		}
	}
	return nil
}

// printExcess lists permissions beyond need with their reasons, indented.
func printExcess(w io.Writer, indent string, beyond []permissions.Excess) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range beyond {
		fmt.Fprintf(tw, "%s%s\t%s\n", indent, e.Permission, e.Reason)
	}
	return tw.Flush()
}

// neededRow is one row of the side-by-side table.
type neededRow struct{ inUse, other *permissions.Needed }

// pairNeeded pairs each permission in use with the other mode's permission
// that serves most of the same needs (User.Read.All with
// User.ReadBasic.All, both for feature directory); what finds no partner
// gets a row of its own. Rows follow inUse's order, the unpaired others
// after them.
func pairNeeded(inUse, other []permissions.Needed) []neededRow {
	taken := make([]bool, len(other))
	var rows []neededRow
	for i := range inUse {
		best, most := -1, 0
		for j := range other {
			if taken[j] {
				continue
			}
			if n := len(other[j].By) - len(without(other[j].By, inUse[i].By)); n > most {
				best, most = j, n
			}
		}
		row := neededRow{inUse: &inUse[i]}
		if best >= 0 {
			taken[best] = true
			row.other = &other[best]
		}
		rows = append(rows, row)
	}
	for j := range other {
		if !taken[j] {
			rows = append(rows, neededRow{other: &other[j]})
		}
	}
	return rows
}

// without is list without the entries in drop.
func without(list, drop []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(drop, s) {
			out = append(out, s)
		}
	}
	return out
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
