package main

import (
	"context"
	"fmt"
	"os"

	"go.temporal.io/sdk/testsuite"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/logging"
	"github.com/outlookflow/outlookflow/store"
)

// floorEngine is the floor: outlookflow's own sync code — the same Graph
// adapter, store and activity methods, wired as app.NewWorker wires them —
// with everything Temporal adds taken away: no server, no workflow, no
// batches, no persistence of progress. One SyncDirectory, then one
// SyncMailboxes over every mailbox, whose inner loop is a plain
// bounded-concurrency loop (FloorParallel mailboxes at once, outlookflow's
// 4 batches x 8 by default). The SDK's TestActivityEnvironment only lends
// the activity context the methods expect (heartbeats go nowhere); it runs
// them in this process, on the calling goroutine. What outlookflow costs
// above the floor is orchestration.
type floorEngine struct {
	spec    childSpec
	acts    *activities.Sync
	env     *testsuite.TestActivityEnvironment
	store   store.Store
	logFile *os.File
}

func newFloor(ctx context.Context, spec childSpec, cfg *config.Config) (engine, error) {
	lf, log, ring, err := openChild(spec, cfg)
	if err != nil {
		return nil, err
	}
	vault, err := app.OpenVault(cfg, ring)
	if err != nil {
		lf.Close()
		return nil, err
	}
	graph, err := app.NewGraphClient(cfg.Cloud)
	if err != nil {
		lf.Close()
		return nil, err
	}
	st, err := app.OpenStore(ctx, cfg.Store)
	if err != nil {
		lf.Close()
		return nil, err
	}
	acts := &activities.Sync{
		Graph:              graph,
		Store:              st,
		Tenants:            app.NewTenantDirectory(cfg.Tenants),
		Vault:              vault,
		Log:                log,
		MailboxParallelism: spec.FloorParallel,
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(logging.NewTemporalLogger(log))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return &floorEngine{spec: spec, acts: acts, env: env, store: st, logFile: lf}, nil
}

func (e *floorEngine) close() {
	_ = e.store.Close()
	e.logFile.Close()
}

func (e *floorEngine) sync(context.Context) (childResult, error) {
	v, err := e.env.ExecuteActivity(e.acts.SyncDirectory, activities.SyncDirectoryInput{TenantKey: e.spec.TenantKey})
	if err != nil {
		return childResult{}, fmt.Errorf("directory: %w", err)
	}
	var dir activities.SyncDirectoryResult
	if err := v.Get(&dir); err != nil {
		return childResult{}, err
	}
	v, err = e.env.ExecuteActivity(e.acts.SyncMailboxes, activities.SyncMailboxesInput{TenantKey: e.spec.TenantKey, Offset: 0, Limit: dir.Mailboxes})
	if err != nil {
		return childResult{}, fmt.Errorf("mailboxes: %w", err)
	}
	var mb activities.SyncMailboxesResult
	if err := v.Get(&mb); err != nil {
		return childResult{}, err
	}
	out := childResult{
		Changed:   mb.Inserted + mb.Updated + mb.Deleted, // items, as outlookflow's progress counts them (users apart)
		Pages:     dir.Pages + mb.Pages,
		Mailboxes: mb.Mailboxes,
	}
	for _, f := range mb.Failures {
		out.Failures = append(out.Failures, fmt.Sprintf("mailbox %s folder %s: %s", f.Mailbox, f.Folder, f.Reason))
	}
	return out, nil
}
