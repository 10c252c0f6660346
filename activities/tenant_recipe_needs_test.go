package activities

import (
	"context"
	"errors"
	"testing"

	"github.com/outlookflow/outlookflow/internal/permissions"
)

// recipeNeedsFunc is a function-field fake of RecipeNeedsSource.
type recipeNeedsFunc func(ctx context.Context, tenantKey string) ([]permissions.Need, error)

func (f recipeNeedsFunc) RecipeNeeds(ctx context.Context, tenantKey string) ([]permissions.Need, error) {
	return f(ctx, tenantKey)
}

// A verified check carries what the tenant's recipes need; when the worker
// cannot tell, the check still verifies and says the needs are unknown (the
// workflow then keeps what it knew).
func TestVerifyConnectionCarriesTheRecipesNeedsOrSaysTheyAreUnknown(t *testing.T) {
	verified := func(context.Context, Credentials) (Verification, error) {
		return Verification{GrantedPermissions: []string{"Mail.ReadBasic.All"}}, nil
	}
	a := newTenant(verified, staticSecret("s"))
	a.RecipeNeeds = recipeNeedsFunc(func(_ context.Context, key string) ([]permissions.Need, error) {
		if key != "contoso" {
			t.Errorf("recipe needs asked for tenant %q", key)
		}
		return []permissions.Need{{Requirement: permissions.Requirement{Permission: "Mail.Send"}, By: `recipe ack: step "ack" (reply)`}}, nil
	})
	res, err := a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso"})
	if err != nil || !res.RecipeNeedsKnown || len(res.RecipeNeeds) != 1 || res.RecipeNeeds[0].Permission != "Mail.Send" {
		t.Fatalf("with a recipe source: %+v, %v; want the recipe's Mail.Send, known", res, err)
	}
	a.RecipeNeeds = recipeNeedsFunc(func(context.Context, string) ([]permissions.Need, error) {
		return nil, errors.New("store: database is locked")
	})
	res, err = a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso"})
	if err != nil || res.Outcome != OutcomeVerified || res.RecipeNeedsKnown {
		t.Fatalf("with an unreadable store: %+v, %v; want Verified with the needs unknown", res, err)
	}
}
