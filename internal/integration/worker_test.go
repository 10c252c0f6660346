package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// TestRunWorkerRegistersSearchAttributesOnAFreshNamespace runs the worker
// exactly as the binary does (app.RunWorker) against a namespace that has never
// seen outlookflow: the worker must register its search attributes itself, and
// a tenant must connect and be findable by them.
func TestRunWorkerRegistersSearchAttributesOnAFreshNamespace(t *testing.T) {
	h := newHarness(t, allRoles, []string{"directory", "mail"}, time.Hour)
	ns := "fresh-" + randomHex(t, 4)
	nsClient, err := client.NewNamespaceClient(client.Options{HostPort: temporalServer.HostPort})
	if err != nil {
		t.Fatal(err)
	}
	defer nsClient.Close()
	if err := nsClient.Register(context.Background(), &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	}); err != nil {
		t.Fatalf("registering namespace %s: %v", ns, err)
	}

	cfg := *h.cfg
	cfg.Temporal.Namespace = ns
	cfg.HTTP.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunWorker(ctx, &cfg, zaptest.NewLogger(t)) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunWorker returned %v after cancel, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("RunWorker did not return after cancel")
		}
	}()

	c, err := app.DialTemporal(context.Background(), &cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		if err == nil && resp.CustomAttributes[tenant.SearchAttrTenant.GetName()] != 0 && resp.CustomAttributes[tenant.SearchAttrStatus.GetName()] != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("search attributes not registered on %s: %v %v", ns, resp, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: tenant.WorkflowID(cfg.Tenants[0].Key), TaskQueue: cfg.Temporal.TaskQueue,
	}, tenant.WorkflowName, app.TenantInput(cfg.Tenants[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.TerminateWorkflow(context.Background(), run.GetID(), "", "test finished") }()
	query := fmt.Sprintf("%s = %q AND %s = 'Connected'", tenant.SearchAttrTenant.GetName(), cfg.Tenants[0].Key, tenant.SearchAttrStatus.GetName())
	deadline = time.Now().Add(time.Minute)
	for {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns, Query: query})
		if err == nil && len(resp.Executions) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant not found Connected in %s by %q: %v %v", ns, query, resp, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestContinueAsNewKeepsStatusAndHandlers continues-as-new every two checks on
// the real server and verifies the new run keeps the state and answers queries
// and updates.
func TestContinueAsNewKeepsStatusAndHandlers(t *testing.T) {
	h := newHarness(t, allRoles, []string{"directory", "mail"}, time.Second)
	in := app.TenantInput(h.cfg.Tenants[0])
	in.ContinueAsNewAfter = 2
	first, err := h.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: tenant.WorkflowID(h.key), TaskQueue: h.cfg.Temporal.TaskQueue,
	}, tenant.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.client.TerminateWorkflow(context.Background(), first.GetID(), "", "test finished") }()
	v := h.waitFor("two continue-as-new generations", time.Minute, func(v tenant.StatusView) bool { return v.Runs >= 2 })
	if v.Status != tenant.StatusConnected || v.Verifications < 4 {
		t.Fatalf("after %d runs: status %s, %d verifications; want Connected with ≥4", v.Runs, v.Status, v.Verifications)
	}
	desc, err := h.client.DescribeWorkflowExecution(context.Background(), first.GetID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if desc.WorkflowExecutionInfo.Execution.RunId == first.GetRunID() {
		t.Fatal("the workflow is still on its first run")
	}
	if v := h.update(tenant.UpdatePause, tenant.PauseRequest{}); v.Status != tenant.StatusPaused {
		t.Fatalf("pause on a continued run answered %s", v.Status)
	}
}
