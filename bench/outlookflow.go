package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/codec"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
)

// outlookflowEngine is the real worker (app.NewWorker: the Graph adapter, the
// store, the sync activities and workflows) polling a Temporal dev server;
// one sync is one SyncRun workflow, started by this process's client the
// way `starter sync` starts it.
type outlookflowEngine struct {
	spec       childSpec
	taskQueue  string
	client     client.Client
	workers    *app.Workers
	logFile    *os.File
	heartbeats *atomic.Int64
}

func newOutlookflow(ctx context.Context, spec childSpec, cfg *config.Config) (engine, error) {
	lf, log, ring, err := openChild(spec, cfg)
	if err != nil {
		return nil, err
	}
	hb := &atomic.Int64{}
	c, err := dialCounting(ctx, cfg, ring, log, hb)
	if err != nil {
		lf.Close()
		return nil, err
	}
	w, err := app.NewWorker(c, cfg, ring, log)
	if err != nil {
		c.Close()
		lf.Close()
		return nil, err
	}
	if err := w.Start(); err != nil {
		c.Close()
		lf.Close()
		return nil, err
	}
	return &outlookflowEngine{spec: spec, taskQueue: cfg.Temporal.TaskQueue, client: c, workers: w, logFile: lf, heartbeats: hb}, nil
}

// dialCounting is app.DialWithKeyring plus a gRPC interceptor counting the
// activity heartbeats that reach the server.
func dialCounting(ctx context.Context, cfg *config.Config, ring codec.Keyring, log *zap.Logger, heartbeats *atomic.Int64) (client.Client, error) {
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if strings.HasSuffix(method, "/RecordActivityTaskHeartbeat") || strings.HasSuffix(method, "/RecordActivityTaskHeartbeatById") {
			heartbeats.Add(1)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	return app.DialWithKeyring(ctx, cfg, ring, log, func(o *client.Options) {
		o.ConnectionOptions.DialOptions = append(o.ConnectionOptions.DialOptions, grpc.WithChainUnaryInterceptor(count))
	})
}

func (e *outlookflowEngine) sync(ctx context.Context) (childResult, error) {
	run, err := e.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        e.spec.WorkflowID,
		TaskQueue: mailsync.TaskQueue(e.taskQueue),
	}, mailsync.WorkflowName, mailsync.Input{TenantKey: e.spec.TenantKey, Kind: mailsync.KindManual})
	if err != nil {
		return childResult{}, fmt.Errorf("starting %s: %w", mailsync.WorkflowName, err)
	}
	var res mailsync.Result
	if err := run.Get(ctx, &res); err != nil {
		return childResult{}, fmt.Errorf("sync run %s: %w", e.spec.WorkflowID, err)
	}
	out := childResult{
		Changed: res.Items, Pages: res.Pages, Mailboxes: res.MailboxesDone,
		Heartbeats: e.heartbeats.Load(), RunID: run.GetRunID(),
	}
	for _, f := range res.FailedFolders {
		out.Failures = append(out.Failures, fmt.Sprintf("mailbox %s folder %s: %s", f.Mailbox, f.Folder, f.Reason))
	}
	return out, nil
}

func (e *outlookflowEngine) close() {
	e.workers.Stop()
	e.client.Close()
	e.logFile.Close()
}
