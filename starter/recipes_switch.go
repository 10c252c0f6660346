package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/recipe"
)

// workerRecipes are the recipes the worker loads from recipes.dir, checked
// as the worker checks them, and the files it would refuse. No recipes.dir:
// none.
func (c *cli) workerRecipes() ([]*recipe.Recipe, []recipe.Diagnostic, error) {
	if err := c.loadConfig(); err != nil {
		return nil, nil, err
	}
	valid, diags := app.LoadRecipes(c.cfg)
	return valid, diags, nil
}

func findRecipe(recipes []*recipe.Recipe, name string) *recipe.Recipe {
	for _, r := range recipes {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func recipesOf(recipes []*recipe.Recipe, tenantKey string) []*recipe.Recipe {
	var out []*recipe.Recipe
	for _, r := range recipes {
		if r.Tenant == tenantKey {
			out = append(out, r)
		}
	}
	return out
}

// unknownRecipe is exit 4 for a recipe name the loaded files lack, with
// what to do about it.
func (c *cli) unknownRecipe(name string, recipes []*recipe.Recipe, refused int) error {
	if c.cfg.Recipes.Dir == "" {
		return errorf(exitNotFound, "recipe %q is unknown: recipes.dir is not set in the configuration, so there are no recipe files to find it in", name)
	}
	names := make([]string, 0, len(recipes))
	for _, r := range recipes {
		names = append(names, r.Name)
	}
	sort.Strings(names)
	msg := fmt.Sprintf("recipe %q is not among the %d valid recipes in %s (%s)", name, len(recipes), c.cfg.Recipes.Dir, dash(strings.Join(names, ", ")))
	if refused > 0 {
		msg += fmt.Sprintf("; %d problem(s) in recipe files keep recipes out: `starter recipes validate` names them", refused)
	}
	return errorf(exitNotFound, "%s", msg)
}

// recipeAndTenant finds the named recipe in the worker's files and the
// tenant it belongs to; key, when given, must be that tenant.
func (c *cli) recipeAndTenant(cmd *cobra.Command, name, key string) (*recipe.Recipe, []*recipe.Recipe, config.Tenant, error) {
	if name == "" {
		return nil, nil, config.Tenant{}, usageError{fmt.Errorf("%s needs --recipe NAME (`starter recipes list` shows them)", cmd.CommandPath())}
	}
	recipes, diags, err := c.workerRecipes()
	if err != nil {
		return nil, nil, config.Tenant{}, err
	}
	r := findRecipe(recipes, name)
	if r == nil {
		return nil, recipes, config.Tenant{}, c.unknownRecipe(name, recipes, len(diags))
	}
	if key == "" {
		key = r.Tenant
	} else if key != r.Tenant {
		return nil, nil, config.Tenant{}, errorf(exitNotFound, "recipe %q belongs to tenant %q (%s says so), not %q; drop --tenant or name that tenant", name, r.Tenant, r.TenantPos, key)
	}
	t, err := c.tenantConfig(key)
	return r, recipes, t, err
}

// recipesSwitchCommand builds `recipes enable` and `recipes disable`: an
// operator's switch in the store, which wins over the file's enabled: for
// the dispatch, for a delayed run about to begin, and for the permissions
// the tenant is checked against.
func (c *cli) recipesSwitchCommand(enable bool) *cobra.Command {
	var name, key string
	verb, short := "disable", "Turn a recipe off for its tenant: new items no longer fire it (runs already going finish)"
	if enable {
		verb, short = "enable", "Turn a recipe on for its tenant, whatever its file's enabled says"
	}
	cmd := &cobra.Command{
		Use:   verb + " --recipe NAME [--tenant KEY]",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, recipes, t, err := c.recipeAndTenant(cmd, name, key)
			if err != nil {
				return err
			}
			st, err := app.OpenStore(c.ctx, c.cfg.Store)
			if err != nil {
				return fmt.Errorf("opening the store: %w", err)
			}
			defer st.Close()
			if err := st.SetRecipeEnabled(c.ctx, t.Key, r.Name, enable); err != nil {
				return err
			}
			switches, err := st.RecipeSwitches(c.ctx, t.Key)
			if err != nil {
				return err
			}
			now := app.RecipeEnabled(r, switches)
			fmt.Fprintf(c.stdout, "Recipe %q of tenant %q is now %s by an operator's switch (its file says enabled: %t).\n", r.Name, t.Key, onOff(now), r.Enabled)
			if now {
				fmt.Fprintln(c.stdout, "Changes the sync dispatches from now on fire it.")
			} else {
				fmt.Fprintln(c.stdout, "Changes the sync dispatches from now on do not fire it; runs already going finish, and a delayed run that has not begun ends Skipped.")
			}
			c.tellConnection(t, recipesOf(recipes, t.Key), switches)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "recipe", "", "the recipe's name")
	cmd.Flags().StringVar(&key, "tenant", "", "the recipe's tenant (default: the one its file names)")
	return cmd
}

func onOff(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}

// tellConnection signals the tenant's connection workflow what its enabled
// recipes need now, so its Missing follows the switch at once. Best effort:
// without it the next check brings the same.
func (c *cli) tellConnection(t config.Tenant, recipes []*recipe.Recipe, switches map[string]bool) {
	later := fmt.Sprintf("the tenant's status counts the change at its next check (`starter verify --tenant %s` checks now)", t.Key)
	if err := c.load(); err != nil {
		fmt.Fprintf(c.stderr, "Temporal not reached (%s): %s.\n", firstLine(err.Error()), later)
		return
	}
	needs := app.EnabledRecipeNeeds(recipes, switches, t.AuthMode == config.AuthDelegated)
	switch err := app.SignalRecipeNeeds(c.ctx, c.temporal, t, needs); {
	case err == nil:
		fmt.Fprintf(c.stdout, "Told the tenant's connection what its enabled recipes need; `starter scopes --tenant %s` shows what its grant lacks.\n", t.Key)
	case activities.IsNotFound(err):
		// Never connected: its first check asks the worker.
	default:
		fmt.Fprintf(c.stderr, "could not tell the tenant's connection (%s): %s.\n", firstLine(err.Error()), later)
	}
}
