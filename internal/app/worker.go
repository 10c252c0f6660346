package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/activities/graphclient"
	"github.com/outlookflow/outlookflow/activities/schedules"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/codec"
	"github.com/outlookflow/outlookflow/internal/credentials"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
	"github.com/outlookflow/outlookflow/workflows/user"
)

// tenantDirectory serves tenant settings from the loaded configuration.
type tenantDirectory map[string]activities.TenantSettings

func (d tenantDirectory) Tenant(key string) (activities.TenantSettings, bool) {
	s, ok := d[key]
	return s, ok
}

// NewTenantDirectory indexes the configured tenants by key. Secrets and
// certificate files are not read here: each verification resolves them
// afresh.
func NewTenantDirectory(tenants []config.Tenant) activities.TenantDirectory {
	d := tenantDirectory{}
	for _, t := range tenants {
		ref := t.Secret
		s := activities.TenantSettings{
			TenantID: t.TenantID,
			ClientID: t.ClientID,
			AuthMode: activities.AuthMode(t.AuthMode),
			ResolveSecret: func() (string, error) {
				return config.ResolveSecret(ref, os.LookupEnv)
			},
			Features:       append([]string(nil), t.Features...),
			CalendarPast:   time.Duration(t.CalendarPastDays) * 24 * time.Hour,
			CalendarFuture: time.Duration(t.CalendarFutureDays) * 24 * time.Hour,
		}
		if cert := t.Certificate; cert.IsSet() {
			// Read at each check and sync, never earlier: replacing the
			// file (and `starter rotate`) is the rotation.
			s.ResolveCertificate = func() ([]byte, string, error) {
				return config.ReadCertificate(cert, os.LookupEnv)
			}
			s.SendCertificateChain = cert.SendCertificateChain
		}
		d[t.Key] = s
	}
	return d
}

// NewGraphClient builds the Graph adapter for the configured cloud.
func NewGraphClient(c config.Cloud) (*graphclient.Client, error) {
	return graphclient.New(graphclient.Cloud{
		AuthorityHost:        c.AuthorityHost,
		GraphBaseURL:         c.GraphBaseURL,
		GraphScope:           c.GraphScope,
		AllowedHosts:         c.AllowedGraphHosts,
		ExtraCAFile:          c.CAFile,
		PublicMicrosoftCloud: c.IsPublicMicrosoftCloud(),
	})
}

// OpenVault opens the credential vault that `starter rotate --secret-stdin`
// writes and the verification activity reads.
func OpenVault(cfg *config.Config, ring codec.Keyring) (*credentials.Vault, error) {
	return credentials.Open(cfg.Credentials.Dir, ring)
}

// OpenStore opens the configured store (applying migrations).
func OpenStore(ctx context.Context, c config.Store) (store.Store, error) {
	sc := store.Config{Driver: c.Driver, SQLitePath: c.Path}
	if c.Driver == config.StorePostgres {
		dsn, err := config.ResolveSecret(c.DSN, os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("store.dsn: %w", err)
		}
		sc.PostgresDSN = dsn
	}
	return store.Open(ctx, sc)
}

// Workers are the worker's three pollers: the tenant connection on the
// configured task queue, the sync and the recipe runs each on their own
// queue, so a sync backlog never delays a connection check or a run's
// actions.
type Workers struct {
	Tenant, Sync, Recipes worker.Worker
	Store                 store.Store
	// Book is the loaded recipes (valid ones; invalid files were logged).
	Book *activities.RecipeBook
	// RecipeActivities are the recipe engine's activities (tests shorten
	// their HoldRetry before Start).
	RecipeActivities *activities.Recipes
	// AuthCallback serves /auth/callback, where users' browsers come back
	// after signing in (the worker's HTTP server mounts it).
	AuthCallback http.Handler

	client       client.Client
	recipes      []*recipe.Recipe
	tenants      []string
	recipesQueue string
	log          *zap.Logger

	stopOnce sync.Once
}

// Start starts all three; on failure none runs. Before, it brings the
// schedule recipes' Temporal Schedules in line with the loaded recipes (a
// failure there is logged per recipe: the other recipes still run).
func (w *Workers) Start() error {
	if w.client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = EnsureRecipeSchedules(ctx, w.client, w.tenants, w.recipes, w.recipesQueue, w.log)
		cancel()
	}
	var started []worker.Worker
	for _, wk := range []worker.Worker{w.Tenant, w.Sync, w.Recipes} {
		if err := wk.Start(); err != nil {
			for _, s := range started {
				s.Stop()
			}
			return err
		}
		started = append(started, wk)
	}
	return nil
}

// Stop stops them and closes the store; stopping again does nothing.
func (w *Workers) Stop() {
	w.stopOnce.Do(func() {
		w.Recipes.Stop()
		w.Sync.Stop()
		w.Tenant.Stop()
		_ = w.Store.Close()
	})
}

// NewWorker registers outlookflow's workflows and activities: the tenant
// connection on the configured task queue, the sync on its own. ring is the
// resolved encryption keyring (it also seals the credential vault).
func NewWorker(c client.Client, cfg *config.Config, ring codec.Keyring, log *zap.Logger) (*Workers, error) {
	graph, err := NewGraphClient(cfg.Cloud)
	if err != nil {
		return nil, err
	}
	vault, err := OpenVault(cfg, ring)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(context.Background(), cfg.Store)
	if err != nil {
		return nil, err
	}
	tenants := NewTenantDirectory(cfg.Tenants)
	recipeNeeds := &RecipeNeeds{Store: st, Tenants: cfg.Tenants, Log: log}
	tw := worker.New(c, cfg.Temporal.TaskQueue, worker.Options{})
	tw.RegisterWorkflowWithOptions(tenant.Workflow, workflow.RegisterOptions{Name: tenant.WorkflowName})
	tw.RegisterActivityWithOptions(&activities.Tenant{
		Graph:   graph,
		Tenants: tenants,
		Vault:   vault,
		Log:     log,

		RecipeNeeds: recipeNeeds,
	}, activity.RegisterOptions{})
	tw.RegisterActivityWithOptions(&schedules.Activities{Temporal: c}, activity.RegisterOptions{})
	broker, apps, err := newBroker(cfg, graph, st, ring)
	if err != nil {
		return nil, err
	}
	tw.RegisterWorkflowWithOptions(user.SignIn, workflow.RegisterOptions{Name: user.SignInWorkflowName})
	tw.RegisterWorkflowWithOptions(user.Connection, workflow.RegisterOptions{Name: user.ConnectionWorkflowName})
	tw.RegisterActivityWithOptions(&activities.Delegated{Broker: broker, Apps: apps,
		Connections: &userConnections{client: c, taskQueue: cfg.Temporal.TaskQueue}}, activity.RegisterOptions{})
	callback := &authCallback{broker: broker, apps: apps, client: c, log: log}
	users := &delegatedUsers{client: c, broker: broker, apps: apps}

	valid, diags := LoadRecipes(cfg)
	for _, d := range diags {
		// The worker keeps serving the valid recipes; the message names the
		// file, line and column and says how to fix it.
		log.Error("recipe file refused", zap.String("error", d.Error()))
	}
	book := activities.NewRecipeBook(valid)
	recipeNeeds.Announce(c, book)
	recipes := &activities.Recipes{
		Store:   st,
		Book:    book,
		Runs:    RunStarter{Client: c, TaskQueue: reciperun.TaskQueue(cfg.Temporal.TaskQueue)},
		Graph:   graph,
		Tenants: tenants,
		Vault:   vault,
		Gate:    &TenantGate{Client: c, TTL: gateTTL},
		Users:   users,
		Log:     log,
		// The configured summarize endpoints (builtin needs none).
		Summarizers: NewSummarizers(cfg.Recipes),
	}
	log.Info("recipes loaded", zap.Int("valid", len(valid)), zap.Int("refused", len(diags)))

	sw := worker.New(c, mailsync.TaskQueue(cfg.Temporal.TaskQueue), worker.Options{})
	sw.RegisterWorkflowWithOptions(mailsync.Workflow, workflow.RegisterOptions{Name: mailsync.WorkflowName})
	sw.RegisterActivityWithOptions(&activities.Sync{
		Graph:              graph,
		Store:              st,
		Tenants:            tenants,
		Vault:              vault,
		Log:                log,
		Triggers:           recipes,
		MailboxParallelism: mailboxesPerActivity,
		Users:              users,
	}, activity.RegisterOptions{})

	rw := worker.New(c, reciperun.TaskQueue(cfg.Temporal.TaskQueue), worker.Options{})
	rw.RegisterWorkflowWithOptions(reciperun.Workflow, workflow.RegisterOptions{Name: reciperun.WorkflowName})
	rw.RegisterWorkflowWithOptions(reciperun.FireWorkflow, workflow.RegisterOptions{Name: reciperun.FireWorkflowName})
	// One by one: Recipes also has the sync's dispatcher methods, which
	// are not activities.
	for _, fn := range []any{recipes.RunRecipeStep, recipes.EvalRecipeCondition, recipes.BeginReplyWait,
		recipes.EndReplyWait, recipes.RecheckRecipeTrigger, recipes.FireRecipe} {
		rw.RegisterActivity(fn)
	}
	return &Workers{Tenant: tw, Sync: sw, Recipes: rw, Store: st, Book: book, RecipeActivities: recipes, AuthCallback: callback,
		client: c, recipes: valid, tenants: tenantKeys(cfg), recipesQueue: reciperun.TaskQueue(cfg.Temporal.TaskQueue), log: log}, nil
}

// gateTTL is how long a tenant's status answer serves recipe steps.
const gateTTL = time.Second

// mailboxesPerActivity is how many mailboxes one SyncMailboxes activity
// syncs at once (a run has 4 such activities going: 32 mailboxes in
// flight). Idle cycles are bound by latency and gain from more: at 24 the
// idle-10k bench cycle took 38.6 s instead of 77.9 s. But a first sync's
// peak RSS then rose from about 260 MB to about 500 MB, more than the
// ItemsInFlight budget accounts for; until that memory is found, 8 it is.
const mailboxesPerActivity = 8

// RunWorker connects, registers search attributes, and runs the worker until
// ctx is cancelled.
func RunWorker(ctx context.Context, cfg *config.Config, log *zap.Logger) error {
	// Resolved once: the client's data converter and the codec endpoint
	// share the keys.
	ring, err := Keyring(cfg)
	if err != nil {
		return err
	}
	c, err := DialWithKeyring(ctx, cfg, ring, log)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := EnsureSearchAttributes(ctx, c, cfg.Temporal.Namespace); err != nil {
		return err
	}
	w, err := NewWorker(c, cfg, ring, log)
	if err != nil {
		return err
	}
	stopHTTP, err := serveHTTP(cfg.HTTP, ring, w.AuthCallback, log)
	if err != nil {
		return err
	}
	defer stopHTTP()
	log.Info("worker starting", zap.String("taskQueue", cfg.Temporal.TaskQueue), zap.String("namespace", cfg.Temporal.Namespace),
		zap.Int("tenants", len(cfg.Tenants)))
	if err := w.Start(); err != nil {
		return fmt.Errorf("starting worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	log.Info("worker stopped")
	return nil
}

// TenantInput is the workflow input for a configured tenant.
func TenantInput(t config.Tenant) tenant.Input {
	return tenant.Input{
		TenantKey:      t.Key,
		DisplayName:    t.DisplayName,
		AuthMode:       string(t.AuthMode),
		Features:       append([]string(nil), t.Features...),
		VerifyInterval: domain.Duration(t.VerifyInterval),
		SyncInterval:   domain.Duration(t.SyncInterval),
	}
}

// TenantSettings is what `starter connect` sends to a running tenant workflow.
func TenantSettings(t config.Tenant) tenant.SettingsRequest {
	in := TenantInput(t)
	return tenant.SettingsRequest{DisplayName: in.DisplayName, AuthMode: in.AuthMode, Features: in.Features, VerifyInterval: in.VerifyInterval, SyncInterval: in.SyncInterval}
}

func tenantKeys(cfg *config.Config) []string {
	keys := make([]string, len(cfg.Tenants))
	for i, t := range cfg.Tenants {
		keys[i] = t.Key
	}
	return keys
}
