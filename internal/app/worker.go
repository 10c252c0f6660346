package app

import (
	"context"
	"fmt"
	"os"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/activities/graphclient"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/codec"
	"github.com/outlookflow/outlookflow/internal/credentials"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// tenantDirectory serves tenant settings from the loaded configuration.
type tenantDirectory map[string]activities.TenantSettings

func (d tenantDirectory) Tenant(key string) (activities.TenantSettings, bool) {
	s, ok := d[key]
	return s, ok
}

// NewTenantDirectory indexes the configured tenants by key. Secrets are not
// read here: each verification resolves them afresh.
func NewTenantDirectory(tenants []config.Tenant) activities.TenantDirectory {
	d := tenantDirectory{}
	for _, t := range tenants {
		ref := t.Secret
		d[t.Key] = activities.TenantSettings{
			TenantID: t.TenantID,
			ClientID: t.ClientID,
			AuthMode: activities.AuthMode(t.AuthMode),
			ResolveSecret: func() (string, error) {
				return config.ResolveSecret(ref, os.LookupEnv)
			},
		}
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

// NewWorker registers outlookflow's workflows and activities on a worker for
// the configured task queue. ring is the resolved encryption keyring (it also
// seals the credential vault).
func NewWorker(c client.Client, cfg *config.Config, ring codec.Keyring, log *zap.Logger) (worker.Worker, error) {
	graph, err := NewGraphClient(cfg.Cloud)
	if err != nil {
		return nil, err
	}
	vault, err := OpenVault(cfg, ring)
	if err != nil {
		return nil, err
	}
	w := worker.New(c, cfg.Temporal.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(tenant.Workflow, workflow.RegisterOptions{Name: tenant.WorkflowName})
	w.RegisterActivityWithOptions(&activities.Tenant{
		Graph:   graph,
		Tenants: NewTenantDirectory(cfg.Tenants),
		Vault:   vault,
		Log:     log,
	}, activity.RegisterOptions{})
	return w, nil
}

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
	stopHTTP, err := serveHTTP(cfg.HTTP, ring, log)
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
	}
}

// TenantSettings is what `starter connect` sends to a running tenant workflow.
func TenantSettings(t config.Tenant) tenant.SettingsRequest {
	in := TenantInput(t)
	return tenant.SettingsRequest{DisplayName: in.DisplayName, AuthMode: in.AuthMode, Features: in.Features, VerifyInterval: in.VerifyInterval}
}
