package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/activities/graphclient"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/logging"
)

// bare-temporal is recipe-throughput's baseline: what a developer writes
// with Temporal alone for "mark the mail read, then categorize it" — one
// workflow, two activities, started by a plain client with the message's
// keys as input. The activities make exactly the Graph requests
// outlookflow's markRead and setCategories steps make (GET the message's
// state, PATCH what differs; activities/recipe_actions.go patchMessage),
// through the same Graph adapter (activities/graphclient: the SDK's
// pipeline, token cache and per-mailbox limiter), so Graph costs the two
// systems the same and the ratio of their runs/s is what outlookflow's
// orchestration costs: trigger dispatch, run snapshots and step outputs
// in the store, the tenant gate (a query to the tenant workflow per step),
// recipe loading and templates, the payload codec, search attributes.
// The worker uses the SDK's default options, as outlookflow's recipe
// worker does; payloads are not encrypted (no codec: a bare worker has none).

const (
	bareWorkflowName = "BenchBareRun"
	bareCategory     = "Bench"
)

// bareInput is one bare run: the message to act on.
type bareInput struct {
	Mailbox   string // object ID
	MessageID string
	Category  string
}

// bareActivities make the Graph calls with the tenant's credentials,
// resolved once when the worker starts.
type bareActivities struct {
	graph *graphclient.Client
	creds activities.Credentials
}

// bareMessage is the state outlookflow's patchMessage reads.
type bareMessage struct {
	IsRead     bool     `json:"isRead"`
	Categories []string `json:"categories"`
}

func (a *bareActivities) get(ctx context.Context, in bareInput) (bareMessage, error) {
	var m bareMessage
	path := "/users/" + url.PathEscape(in.Mailbox) + "/messages/" + url.PathEscape(in.MessageID) +
		"?$select=id,parentFolderId,internetMessageId,conversationId,isRead,categories,flag"
	err := a.graph.Call(ctx, a.creds, in.Mailbox, http.MethodGet, path, nil, &m)
	return m, err
}

func (a *bareActivities) patch(ctx context.Context, in bareInput, body map[string]any) error {
	path := "/users/" + url.PathEscape(in.Mailbox) + "/messages/" + url.PathEscape(in.MessageID)
	return a.graph.Call(ctx, a.creds, in.Mailbox, http.MethodPatch, path, body, nil)
}

// BareMarkRead marks the message read unless it is.
func (a *bareActivities) BareMarkRead(ctx context.Context, in bareInput) error {
	m, err := a.get(ctx, in)
	if err != nil || m.IsRead {
		return err
	}
	return a.patch(ctx, in, map[string]any{"isRead": true})
}

// BareSetCategories adds the category unless the message has it.
func (a *bareActivities) BareSetCategories(ctx context.Context, in bareInput) error {
	m, err := a.get(ctx, in)
	if err != nil || slices.Contains(m.Categories, in.Category) {
		return err
	}
	return a.patch(ctx, in, map[string]any{"categories": append(m.Categories, in.Category)})
}

// bareActivityOptions are outlookflow's action options' timeout and
// backoff, without its list of non-retryable error types.
var bareActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 5 * time.Minute,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 2 * time.Minute},
}

// bareWorkflow runs the two activities in order.
func bareWorkflow(ctx workflow.Context, in bareInput) error {
	var a *bareActivities
	ctx = workflow.WithActivityOptions(ctx, bareActivityOptions)
	if err := workflow.ExecuteActivity(ctx, a.BareMarkRead, in).Get(ctx, nil); err != nil {
		return err
	}
	return workflow.ExecuteActivity(ctx, a.BareSetCategories, in).Get(ctx, nil)
}

// bareEngine is the bare worker as a serving child.
type bareEngine struct {
	spec    childSpec
	client  client.Client
	worker  worker.Worker
	logFile *os.File
}

func newBare(ctx context.Context, spec childSpec, cfg *config.Config) (engine, error) {
	if !spec.Serve {
		return nil, fmt.Errorf("%s only runs as a serving worker", sysBare)
	}
	if len(cfg.Tenants) != 1 {
		return nil, fmt.Errorf("%s: the configuration must hold exactly one tenant", sysBare)
	}
	lf, log, _, err := openChild(spec, cfg)
	if err != nil {
		return nil, err
	}
	t := cfg.Tenants[0]
	secret, err := config.ResolveSecret(t.Secret, os.LookupEnv)
	if err != nil {
		lf.Close()
		return nil, err
	}
	graph, err := app.NewGraphClient(cfg.Cloud)
	if err != nil {
		lf.Close()
		return nil, err
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, Logger: logging.NewTemporalLogger(log)})
	if err != nil {
		lf.Close()
		return nil, err
	}
	w := worker.New(c, cfg.Temporal.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(bareWorkflow, workflow.RegisterOptions{Name: bareWorkflowName})
	w.RegisterActivityWithOptions(&bareActivities{graph: graph, creds: activities.Credentials{
		TenantID: t.TenantID, ClientID: t.ClientID, ClientSecret: secret, AuthMode: activities.AuthAppOnly,
	}}, activity.RegisterOptions{})
	if err := w.Start(); err != nil {
		c.Close()
		lf.Close()
		return nil, err
	}
	return &bareEngine{spec: spec, client: c, worker: w, logFile: lf}, nil
}

func (e *bareEngine) sync(ctx context.Context) (childResult, error) {
	return serveUntilStdinCloses(ctx, e.spec.Ready)
}

func (e *bareEngine) close() {
	e.worker.Stop()
	e.client.Close()
	e.logFile.Close()
}
