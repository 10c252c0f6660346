package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/recipe"
)

// exitInvalidRecipes: `starter recipes validate` found a recipe file it
// refuses (the diagnostics are printed, one file:line:col per line).
const exitInvalidRecipes = 8

func (c *cli) recipesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recipes",
		Short: "Check, list and operate recipes: validate, list, why, runs, enable, disable (recipes.dir, or the files and folders given)",
	}
	cmd.AddCommand(c.recipesValidateCommand(), c.recipesListCommand(), c.recipesRunCommand(),
		c.recipesWhyCommand(), c.recipesSwitchCommand(true), c.recipesSwitchCommand(false), c.recipesRunsCommand())
	return cmd
}

// recipeFlags are what validate and list share: where the recipes are and
// whether to check them against each tenant's granted permissions.
type recipeFlags struct {
	grants bool
}

func (f *recipeFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.grants, "grants", false, "also check each step's permissions against what the tenant's connection was granted (asks Temporal for each tenant's status)")
}

func (c *cli) recipesValidateCommand() *cobra.Command {
	var f recipeFlags
	cmd := &cobra.Command{
		Use:   "validate [FILE|DIR...] [--grants]",
		Short: "Check recipe files: every problem as file:line:col, what is wrong and how to fix it (exit 8 if any)",
		RunE: func(cmd *cobra.Command, args []string) error {
			valid, diags, err := c.loadRecipes(args, f)
			if err != nil {
				return err
			}
			for _, d := range diags {
				fmt.Fprintln(c.stderr, d.Error())
			}
			fmt.Fprintf(c.stdout, "%d recipe(s) valid, %d problem(s)\n", len(valid), len(diags))
			if len(diags) > 0 {
				return exitError{code: exitInvalidRecipes}
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func (c *cli) recipesListCommand() *cobra.Command {
	var f recipeFlags
	cmd := &cobra.Command{
		Use:   "list [FILE|DIR...] [--grants]",
		Short: "List the valid recipes: tenant, trigger, mailboxes, steps and the Graph permissions each needs",
		RunE: func(cmd *cobra.Command, args []string) error {
			valid, diags, err := c.loadRecipes(args, f)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTENANT\tENABLED\tTRIGGER\tMAILBOXES\tSTEPS\tPERMISSIONS\tFILE")
			for _, r := range valid {
				delegated := c.cfg != nil && c.tenantDelegated(r.Tenant)
				var perms []string
				for _, p := range recipe.Permissions(r, delegated) {
					perms = append(perms, p.Permission)
				}
				fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\t%d\t%s\t%s\n", r.Name, r.Tenant, r.Enabled, r.Trigger.Kind,
					mailboxScope(r.Mailboxes), countSteps(r.Steps), dash(strings.Join(perms, ", ")), r.File)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(diags) > 0 {
				fmt.Fprintf(c.stderr, "%d problem(s) in recipe files left them out; run `starter recipes validate` to see them\n", len(diags))
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// loadRecipes reads the recipes named by args (files or folders), or
// recipes.dir when none are given. With a configuration, each recipe's
// tenant must be configured and its actions possible in the tenant's auth
// mode; with --grants, its permissions are checked against the tenant's
// grant as the connection workflow last saw it.
func (c *cli) loadRecipes(args []string, f recipeFlags) ([]*recipe.Recipe, []recipe.Diagnostic, error) {
	var opts recipe.Options
	if c.configPath != "" {
		if err := c.loadConfig(); err != nil {
			return nil, nil, err
		}
		opts.Tenants = map[string]recipe.Grant{}
		// The worker's own check: a summarize step names a configured
		// summarizer (or builtin).
		opts.Summarizers = app.RecipeOptions(c.cfg).Summarizers
		for _, t := range c.cfg.Tenants {
			g := recipe.Grant{Delegated: t.AuthMode == config.AuthDelegated}
			if f.grants {
				if err := c.load(); err != nil {
					return nil, nil, err
				}
				view, err := c.queryStatus(t.Key)
				if err != nil {
					// Never connected, or its workflow does not answer:
					// nothing granted to compare with. Say so, and check
					// the rest.
					why := err.Error()
					var ee exitError
					if errors.As(err, &ee) && ee.code == exitNotFound {
						why = "it has no connection workflow yet"
					}
					fmt.Fprintf(c.stderr, "tenant %q: its grant is unknown (%s); its recipes' permissions are not checked\n", t.Key, why)
					opts.Tenants[t.Key] = g
					continue
				}
				// An empty grant is a real answer only once the tenant
				// was checked; before that, leave permissions unchecked.
				if !view.LastCheckedAt.IsZero() {
					g.Permissions = append([]string{}, view.Granted...)
				}
			}
			opts.Tenants[t.Key] = g
		}
	} else if f.grants {
		return nil, nil, usageError{fmt.Errorf("--grants needs the configuration (--config or $%s) to know the tenants", config.EnvConfigPath)}
	}
	if len(args) == 0 {
		if c.cfg == nil || c.cfg.Recipes.Dir == "" {
			return nil, nil, usageError{fmt.Errorf("no recipes to read: name files or folders, or set recipes.dir in the configuration")}
		}
		args = []string{c.cfg.Recipes.Dir}
	}
	var valid []*recipe.Recipe
	var diags []recipe.Diagnostic
	names := map[string]string{} // recipe name → file, across the arguments
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("recipe path %q: %v", a, err)}
		}
		var got []*recipe.Recipe
		var ds []recipe.Diagnostic
		if st.IsDir() {
			got, ds = recipe.LoadDir(a, opts)
		} else {
			data, err := os.ReadFile(a)
			if err != nil {
				return nil, nil, usageError{fmt.Errorf("recipe file %q: %v", a, err)}
			}
			r, fileDiags := recipe.Parse(a, data, opts)
			ds = fileDiags
			if r != nil {
				got = []*recipe.Recipe{r}
			}
		}
		diags = append(diags, ds...)
		for _, r := range got {
			if other, dup := names[r.Name]; dup && filepath.Clean(other) != filepath.Clean(r.File) {
				diags = append(diags, recipe.Diagnostic{Pos: r.NamePos, Msg: fmt.Sprintf("recipe name %q is also used by %s; give each recipe its own name", r.Name, other)})
				continue
			}
			names[r.Name] = r.File
			valid = append(valid, r)
		}
	}
	sort.Slice(valid, func(i, j int) bool { return valid[i].Name < valid[j].Name })
	return valid, diags, nil
}

func (c *cli) tenantDelegated(key string) bool {
	for _, t := range c.cfg.Tenants {
		if t.Key == key {
			return t.AuthMode == config.AuthDelegated
		}
	}
	return false
}

func mailboxScope(m recipe.Mailboxes) string {
	switch m.Scope {
	case recipe.ScopeUsers:
		return strings.Join(m.Users, ", ")
	case recipe.ScopeGroup:
		return "members of " + m.Group
	case recipe.ScopeAll:
		return "all"
	}
	return "-"
}

// countSteps counts steps at every depth (if branches included).
func countSteps(steps []*recipe.Step) int {
	n := 0
	for _, s := range steps {
		n += 1 + countSteps(s.Then) + countSteps(s.Else)
	}
	return n
}
