package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
)

// ErrRecipeUnknown: a schedule tick or a manual run names a recipe the
// worker has not loaded (removed, renamed, or refused as invalid).
const ErrRecipeUnknown = "RecipeUnknown"

// ErrFireRefused: a manual run asked for something its recipe cannot do
// (an item for a schedule recipe, a mailbox it does not watch…).
const ErrFireRefused = "FireRefused"

// FireRequest fires a recipe outside the sync's item changes: a schedule
// tick (Signal schedule, At the tick's scheduled time) or an operator's
// manual run (Signal manual, RequestID naming the request; ItemID for a
// mail or calendar recipe run on one item, Payload for a manual recipe).
type FireRequest struct {
	Tenant, Recipe string
	Signal         recipe.TriggerKind
	At             time.Time
	// RequestID makes a manual run idempotent: the same request starts the
	// same runs, however often it is repeated.
	RequestID string
	// Mailbox limits the run to one of the recipe's mailboxes (UPN or
	// object ID); "" means each mailbox the recipe watches.
	Mailbox string
	// ItemID is the message or event a mail or calendar recipe is run on.
	ItemID string
	// Payload is a manual recipe's `input`.
	Payload map[string]any
}

// FiredRun is what firing did for one mailbox.
type FiredRun struct {
	Mailbox string // UPN, or "" for a recipe without mailboxes
	RunID   string
	Fired   bool
	Started bool   // false when the run already existed (a repeated request)
	Reason  string // the decision's summary ("fires", "condition is false"…)
}

// FireResult lists what firing did, one entry per mailbox considered.
type FireResult struct {
	Runs []FiredRun
}

// FireRecipe fires a schedule or manual recipe (or runs a mail or calendar
// recipe on one item at an operator's request). Each (recipe, mailbox,
// tick or request) has one run ID, so a retried activity, a repeated tick
// or a repeated command starts nothing twice; each decision is recorded
// for `starter recipes why`.
func (a *Recipes) FireRecipe(ctx context.Context, req FireRequest) (FireResult, error) {
	var res FireResult
	r := a.Book.Get(req.Tenant, req.Recipe)
	if r == nil {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("recipe %q is not loaded for tenant %q: check the file is in recipes.dir and valid (`starter recipes validate`), then restart the worker", req.Recipe, req.Tenant), ErrRecipeUnknown, nil)
	}
	if err := checkFire(r, req); err != nil {
		return res, err
	}
	switches, err := a.Store.RecipeSwitches(ctx, req.Tenant)
	if err != nil {
		return res, retryable("reading recipe switches", err)
	}
	enabled := r.Enabled
	if on, ok := switches[r.Name]; ok {
		enabled = on
	}
	if r.Enabled != enabled {
		switched := *r
		switched.Enabled = enabled
		r = &switched
	}
	dir, err := a.directory(ctx, req.Tenant)
	if err != nil {
		return res, err
	}
	mailboxes, err := fireMailboxes(r, dir, req.Mailbox)
	if err != nil {
		return res, err
	}
	var decisions []store.RecipeDecision
	for _, mb := range mailboxes {
		in, err := a.fireInput(ctx, r, req, dir, mb)
		if err != nil {
			return res, err
		}
		var d recipe.Decision
		var changeKey, itemID string
		if req.ItemID != "" {
			// An operator's run of a mail or calendar recipe on one item:
			// the trigger is the operator's request, not a sync change,
			// so it has its own key (the automatic run keeps its own).
			changeKey, itemID = "manual:"+req.RequestID, req.ItemID
			d = recipe.MatchRequested(r, in, changeKey)
		} else {
			// A tick or a manual recipe: one run per mailbox (the item).
			changeKey, itemID = recipe.ChangeKey(r, in), cmp.Or(mb.ID, "-")
			d = recipe.Match(r, in)
			if req.Signal == recipe.TriggerManual && r.Trigger.Kind == recipe.TriggerSchedule {
				// An operator's extra tick: keyed by the request, so it
				// neither collides with a scheduled tick in the same
				// second nor runs twice when the request is repeated.
				changeKey = "manual:" + req.RequestID
				d.RunID = recipe.RunID(req.Tenant, r.Name, itemID, changeKey)
			}
		}
		fr := FiredRun{Mailbox: mb.UserPrincipalName, RunID: d.RunID, Fired: d.Fire, Reason: d.Reason()}
		dec := store.RecipeDecision{Tenant: req.Tenant, Recipe: r.Name, ItemID: itemID, ChangeKey: changeKey,
			RunID: d.RunID, Mailbox: mb.ID, Fired: d.Fire, Reason: d.Reason(), At: in.Now}
		dec.Detail, _ = json.Marshal(d)
		decisions = append(decisions, dec)
		if d.Fire {
			if err := a.saveRun(ctx, req.Tenant, r, d.RunID, mb.ID, itemID, changeKey, in); err != nil {
				return res, err
			}
			started, err := a.Runs.StartRun(ctx, RunStart{Tenant: req.Tenant, Recipe: r.Name, RunID: d.RunID, Mailbox: mb.ID,
				Trigger: string(r.Trigger.Kind), ChangeKey: changeKey, Def: r})
			if err != nil {
				return res, retryable("starting a recipe run", err)
			}
			fr.Started = started
			if started {
				a.Log.Info("recipe run started", zap.String("tenant", req.Tenant), zap.String("recipe", r.Name),
					zap.String("runId", d.RunID), zap.String("by", string(req.Signal)))
			}
		}
		res.Runs = append(res.Runs, fr)
	}
	if err := a.Store.RecordDecisions(ctx, decisions); err != nil {
		return res, retryable("recording recipe decisions", err)
	}
	return res, nil
}

// checkFire refuses requests the recipe cannot serve, naming the fix.
func checkFire(r *recipe.Recipe, req FireRequest) error {
	k := r.Trigger.Kind
	refuse := func(format string, args ...any) error {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrFireRefused, nil)
	}
	switch req.Signal {
	case recipe.TriggerSchedule:
		if k != recipe.TriggerSchedule {
			return refuse("recipe %q has a %s trigger, not a schedule: its schedule is stale (restart the worker to drop it)", r.Name, k)
		}
	case recipe.TriggerManual:
		if req.RequestID == "" {
			return refuse("a manual run needs a request ID")
		}
		switch {
		case k != recipe.TriggerManual && len(req.Payload) > 0:
			return refuse("recipe %q has a %s trigger, which has no input: drop --payload (only manual recipes read `input`)", r.Name, k)
		case k == recipe.TriggerManual && req.ItemID != "":
			return refuse("recipe %q has a manual trigger: give it --payload, not --item", r.Name)
		case (k.IsMail() || k.IsEvent()) && req.ItemID == "":
			return refuse("recipe %q has a %s trigger: name the message or event to run it on with --item ID", r.Name, k)
		case k == recipe.TriggerSchedule && req.ItemID != "":
			return refuse("recipe %q has a schedule trigger: run it without --item", r.Name)
		}
	default:
		return refuse("fire signal %q is neither schedule nor manual", req.Signal)
	}
	return nil
}

// fireMailboxes are the mailboxes a fired recipe runs for: each it
// watches (listed users, a group's members, every synced user), or one
// zero entry for a recipe without mailboxes; only mailbox when given.
func fireMailboxes(r *recipe.Recipe, dir *tenantDirCache, only string) ([]domain.User, error) {
	var out []domain.User
	switch r.Mailboxes.Scope {
	case recipe.ScopeNone:
		if only != "" {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("recipe %q watches no mailboxes: drop --mailbox", r.Name), ErrFireRefused, nil)
		}
		return []domain.User{{}}, nil
	case recipe.ScopeUsers:
		for _, name := range r.Mailboxes.Users {
			if u, ok := dir.lookup(name); ok {
				out = append(out, u)
			}
		}
	case recipe.ScopeGroup:
		group := strings.ToLower(r.Mailboxes.Group)
		for id, groups := range dir.groups {
			for _, g := range groups {
				if strings.EqualFold(g, group) {
					out = append(out, dir.users[id])
					break
				}
			}
		}
	case recipe.ScopeAll:
		for _, u := range dir.users {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if only == "" {
		return out, nil
	}
	for _, u := range out {
		if strings.EqualFold(u.ID, only) || strings.EqualFold(u.UserPrincipalName, only) || strings.EqualFold(u.Mail, only) {
			return []domain.User{u}, nil
		}
	}
	return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("recipe %q does not watch mailbox %q (or the directory sync has not seen it yet): name one of its mailboxes", r.Name, only), ErrFireRefused, nil)
}

// lookup finds a user by object ID, UPN or mail address.
func (c *tenantDirCache) lookup(name string) (domain.User, bool) {
	if u, ok := c.users[name]; ok {
		return u, true
	}
	for _, u := range c.users {
		if strings.EqualFold(u.UserPrincipalName, name) || strings.EqualFold(u.Mail, name) || strings.EqualFold(u.ID, name) {
			return u, true
		}
	}
	return domain.User{}, false
}

// fireInput is what the recipe matches and its steps read for one mailbox.
func (a *Recipes) fireInput(ctx context.Context, r *recipe.Recipe, req FireRequest, dir *tenantDirCache, mb domain.User) (recipe.Input, error) {
	in := recipe.Input{Signal: req.Signal, Mailbox: mb.ID, MailboxAddress: mb.UserPrincipalName, MailboxGroups: dir.groups[mb.ID],
		Payload: req.Payload, ChangeKey: req.RequestID, Now: req.At}
	if req.Signal == recipe.TriggerManual && r.Trigger.Kind == recipe.TriggerSchedule {
		in.Signal = recipe.TriggerSchedule // run now, as a tick would
	}
	if in.Now.IsZero() {
		in.Now = a.now().UTC().Truncate(time.Second)
	}
	if req.ItemID == "" {
		return in, nil
	}
	// A mail or calendar recipe on one item: its data as the sync stored it.
	in.Signal = ""
	switch {
	case r.Trigger.Kind.IsMail():
		msgs, err := a.Store.MessagesByID(ctx, req.Tenant, mb.ID, []string{req.ItemID})
		if err != nil {
			return in, retryable("reading the message", err)
		}
		m, ok := msgs[req.ItemID]
		if !ok {
			return in, temporal.NewNonRetryableApplicationError(fmt.Sprintf("message %s is not in the store for mailbox %s: check the ID (`starter messages`) and the mailbox", req.ItemID, mb.UserPrincipalName), ErrFireRefused, nil)
		}
		m.Body = nil
		in.Message = &m
		in.Change = domain.Change{Kind: domain.KindMessage, Mailbox: mb.ID, ItemID: req.ItemID, Type: domain.ChangeCreated}
		f, err := a.folder(ctx, map[string]*domain.MailFolder{}, req.Tenant, mb.ID, m.FolderID)
		if err != nil {
			return in, err
		}
		in.Folder = f
	case r.Trigger.Kind.IsEvent():
		evs, err := a.Store.EventsByID(ctx, req.Tenant, mb.ID, []string{req.ItemID})
		if err != nil {
			return in, retryable("reading the event", err)
		}
		ev, ok := evs[req.ItemID]
		if !ok {
			return in, temporal.NewNonRetryableApplicationError(fmt.Sprintf("event %s is not in the store for mailbox %s: check the ID (`starter events`) and the mailbox", req.ItemID, mb.UserPrincipalName), ErrFireRefused, nil)
		}
		in.Event = &ev
		in.Change = domain.Change{Kind: domain.KindEvent, Mailbox: mb.ID, ItemID: req.ItemID, Type: domain.ChangeUpdated}
		if r.Trigger.Kind == recipe.TriggerUpcomingEvent {
			in.Signal = recipe.TriggerUpcomingEvent
		}
	}
	return in, nil
}
