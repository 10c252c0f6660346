package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// The recipe scenarios (issue 7):
//
//   - recipe-throughput: runs/s of a two-action recipe (markRead, then
//     setCategories) executed by the real worker, against bare-temporal
//     (bare.go: the same two Graph actions as a plain two-activity
//     workflow) on the same dev server in the same invocation. Runs start
//     the way production starts them: mail is delivered, one manual sync
//     saves it and its Dispatch starts a RecipeRun per mail; bare runs are
//     started by a plain client, one starter per mailbox (Dispatch's
//     shape). A system's rate is its runs over the time from its first
//     run's start to its last run's close (server times, from visibility),
//     summed over its rounds; the rounds alternate A B B A … so a drift in
//     the machine's load (two cores, shared) falls on both. Both workers
//     are up the whole time, each idle while the other is measured; each
//     runs one unmeasured warm-up round first (one run per mailbox).
//   - trigger-latency: the polling trigger at the tenant's configured sync
//     interval (its Temporal Schedule; no change notifications): mails
//     injected at random times into random mailboxes, latency from the
//     injection to the first Graph request of the run's first action
//     arriving at the simulator (its request log's arrival time).
//
// Each system gets its own tenant of RecipeMailboxes mailboxes (the same
// shape), so one system's mail and writes never show up in the other's
// sync, and Graph's per-mailbox limits apply to each alike.

const (
	benchRecipeName = "bench-two-actions"
	// benchRecipeSubject is in every mail the recipe must fire for.
	benchRecipeSubject = "bench-recipe"
)

// benchRecipe is the two-action recipe: any mailbox, new mail whose
// subject has benchRecipeSubject; mark it read, then add a category. Each
// step GETs the message's state and PATCHes what differs (4 Graph
// requests per run).
func benchRecipe(tenantKey string) string {
	return `name: ` + benchRecipeName + `
tenant: ` + tenantKey + `
description: make bench's two-action recipe
mailboxes:
  all: true
trigger:
  newMail:
    subjectContains: [` + benchRecipeSubject + `]
steps:
  - id: read
    markRead: {}
  - id: tag
    setCategories:
      categories: [` + bareCategory + `]
`
}

// benchRunID is the workflow ID of the bench recipe's run for a message:
// Dispatch derives it (recipe.RunID) from the tenant, the recipe, the item
// and the change key, "new" for a newMail trigger (recipe.ChangeKey).
func benchRunID(tenantKey, messageID string) string {
	return recipe.RunID(tenantKey, benchRecipeName, messageID, "new")
}

// recipeRoles: the sync's reads and the actions' writes.
var recipeRoles = []string{"User.Read.All", "Mail.ReadBasic.All", "Mail.ReadWrite"}

// recipeTenant seeds a tenant for a recipe scenario: RecipeMailboxes
// mailboxes holding a few messages each (in the inbox).
func (b *bench) recipeTenant(key string) (*benchTenant, error) {
	b.w.seq++
	return b.w.installTenant(key, graphsim.LargeSeed{
		TenantID: fmt.Sprintf("b3c0be9c-0000-4000-8000-%012d", b.w.seq), Domain: key + ".example", Roles: recipeRoles,
		Mailboxes: b.o.RecipeMailboxes, MessagesPerMailbox: 5, Folders: 1, Base: time.Now().UTC().Truncate(time.Hour),
	})
}

// delivered is a mail the bench put in a mailbox.
type delivered struct {
	mailbox, id string
	at          time.Time // just before it was delivered
}

// deliver puts n mails round-robin into the tenant's mailboxes.
func (b *bench) deliver(t *benchTenant, n int, subject string) ([]delivered, error) {
	out := make([]delivered, 0, n)
	for i := range n {
		mb := t.mailboxes[i%len(t.mailboxes)]
		d, err := b.deliverOne(t, mb, fmt.Sprintf("%s %d", subject, i))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (b *bench) deliverOne(t *benchTenant, mailbox, subject string) (delivered, error) {
	at := time.Now()
	id, err := b.w.sim.DeliverMessage(t.creds.TenantID, mailbox, graphsim.MessageSeed{
		From: "sender@outside.example", To: []string{mailbox}, Subject: subject, BodyText: "bench", ReceivedAt: at.UTC()})
	if err != nil {
		return delivered{}, fmt.Errorf("delivering to %s: %w", mailbox, err)
	}
	return delivered{mailbox: mailbox, id: id, at: at}, nil
}

// checkActed checks that the simulator holds every mail read and with the
// bench's category: both actions took effect.
func (b *bench) checkActed(t *benchTenant, mails []delivered) error {
	byMailbox := map[string]map[string]bool{}
	for _, m := range mails {
		if byMailbox[m.mailbox] == nil {
			byMailbox[m.mailbox] = map[string]bool{}
		}
		byMailbox[m.mailbox][m.id] = true
	}
	bad := 0
	for mb, ids := range byMailbox {
		msgs, err := b.w.sim.Mailbox(t.creds.TenantID, mb, "inbox")
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if ids[m.ID] {
				delete(ids, m.ID)
				if !m.IsRead || !slices.Contains(m.Categories, bareCategory) {
					bad++
				}
			}
		}
		bad += len(ids) // gone from the inbox
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d mails were not marked read and categorized %q", bad, len(mails), bareCategory)
	}
	return nil
}

// actionRequests counts the Graph requests the simulator logged (since
// the last ClearRequests) that address one of mails: the actions' own.
func (b *bench) actionRequests(mails []delivered) int {
	ids := map[string]bool{}
	for _, m := range mails {
		ids[m.id] = true
	}
	n := 0
	for _, r := range b.w.sim.Requests() {
		if i := strings.LastIndex(r.Path, "/messages/"); i >= 0 && ids[r.Path[i+len("/messages/"):]] {
			n++
		}
	}
	return n
}

// roundResult is one measured round of one system.
type roundResult struct {
	runs        int
	first, last time.Time // first run's start, last run's close
	lastStart   time.Time // last run's start: how long starting them took
	cpu         float64   // the worker process's CPU seconds during the round
	graph       int       // the tenant's Graph round trips during the round
	actionReqs  int       // of which addressed to the round's mails
	syncWall    time.Duration
	sampleRun   string // a run's workflow ID (its history is read for actions)
}

// throughputSystem is one side of recipe-throughput.
type throughputSystem interface {
	name() string
	round(ctx context.Context, n, seq int) (roundResult, []delivered, error)
	close(ctx context.Context) (childRun, error)
}

// recipeWorker is outlookflow's worker serving a tenant that has the bench
// recipe, and the parent's client for it (with the worker's payload codec:
// it starts the tenant workflow and syncs, and reads their answers).
type recipeWorker struct {
	b         *bench
	t         *benchTenant
	cfg       *config.Config
	client    client.Client
	child     *servedChild
	connected bool
}

// startRecipeWorker writes the recipe and the worker's configuration (the
// tenant's sync every interval), starts the worker, connects the tenant
// and waits for its first sync (started by the schedule when it is
// created) to end: mail that arrives during a mailbox's first sync counts
// as already there and fires nothing.
func (b *bench) startRecipeWorker(ctx context.Context, t *benchTenant, name string, interval time.Duration) (*recipeWorker, error) {
	w := b.w
	recipes := filepath.Join(w.dir, name+"-recipes")
	if err := os.MkdirAll(recipes, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(recipes, benchRecipeName+".yaml"), []byte(benchRecipe(t.key)), 0o600); err != nil {
		return nil, err
	}
	cfgMap := w.configMap(t, "bench-"+name, filepath.Join(w.dir, name+".db"))
	cfgMap["recipes"] = map[string]any{"dir": recipes}
	tc := cfgMap["tenants"].([]any)[0].(map[string]any)
	tc["features"] = []string{"directory", "mail"}
	tc["syncInterval"] = interval.String()
	cfgPath := filepath.Join(w.dir, name+".config.yaml")
	if err := writeJSONConfig(cfgPath, cfgMap); err != nil {
		return nil, err
	}
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		return nil, err
	}
	ring, err := app.Keyring(cfg)
	if err != nil {
		return nil, err
	}
	c, err := app.DialWithKeyring(ctx, cfg, ring, zap.NewNop())
	if err != nil {
		return nil, err
	}
	child, err := startServed(childSpec{System: sysOutlookflow, ConfigPath: cfgPath, TenantKey: t.key,
		Result: filepath.Join(w.dir, name+".result.json"), LogFile: filepath.Join(w.dir, name+".log")})
	if err != nil {
		c.Close()
		return nil, err
	}
	rw := &recipeWorker{b: b, t: t, cfg: cfg, client: c, child: child}
	if err := rw.connect(ctx); err != nil {
		_, cerr := rw.close(ctx)
		return nil, errors.Join(err, cerr)
	}
	return rw, nil
}

func (rw *recipeWorker) name() string { return sysOutlookflow }

// connect starts the tenant workflow as `starter connect` does and waits
// for Connected and for the first sync to end.
func (rw *recipeWorker) connect(ctx context.Context) error {
	key := rw.t.key
	if _, err := rw.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: tenant.WorkflowID(key), TaskQueue: rw.cfg.Temporal.TaskQueue},
		tenant.WorkflowName, app.TenantInput(rw.cfg.Tenants[0])); err != nil {
		return fmt.Errorf("connecting tenant %s: %w", key, err)
	}
	rw.connected = true
	var last tenant.StatusView
	var lastErr error
	if !poll(ctx, 2*time.Minute, 200*time.Millisecond, func() bool {
		v, err := rw.client.QueryWorkflow(ctx, tenant.WorkflowID(key), "", tenant.QueryStatus)
		if lastErr = err; err == nil {
			lastErr = v.Get(&last)
		}
		return lastErr == nil && last.Status == tenant.StatusConnected
	}) {
		return fmt.Errorf("tenant %s not Connected after 2 minutes: status %q %s (query error %v)", key, last.Status, last.Detail, lastErr)
	}
	q := fmt.Sprintf("OutlookflowTenant = %q AND WorkflowType = %q", key, mailsync.WorkflowName)
	var syncs []*workflowExecution
	if !poll(ctx, 5*time.Minute, 250*time.Millisecond, func() bool {
		syncs, lastErr = listExecutions(ctx, rw.client, rw.cfg.Temporal.Namespace, q)
		done, running := 0, 0
		for _, s := range syncs {
			switch s.status {
			case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
				running++
			case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
				done++
			}
		}
		return lastErr == nil && done > 0 && running == 0
	}) {
		return fmt.Errorf("tenant %s: its first sync did not end within 5 minutes (%d sync runs seen, list error %v)", key, len(syncs), lastErr)
	}
	return nil
}

// round delivers n mails, runs one manual sync (whose Dispatch starts a
// run per mail) and waits for every run to close.
func (rw *recipeWorker) round(ctx context.Context, n, seq int) (roundResult, []delivered, error) {
	b, key := rw.b, rw.t.key
	mails, err := b.deliver(rw.t, n, fmt.Sprintf("%s %d", benchRecipeSubject, seq))
	if err != nil {
		return roundResult{}, nil, err
	}
	ids := make([]string, len(mails))
	for i, m := range mails {
		ids[i] = benchRunID(key, m.id)
	}
	b.w.sim.ClearRequests()
	cpu0 := rw.child.cpu()
	started := time.Now()
	run, err := rw.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: mailsync.WorkflowID(key, fmt.Sprintf("bench-recipes-%d", seq)), TaskQueue: mailsync.TaskQueue(rw.cfg.Temporal.TaskQueue),
	}, mailsync.WorkflowName, mailsync.Input{TenantKey: key, Kind: mailsync.KindManual})
	if err != nil {
		return roundResult{}, nil, fmt.Errorf("starting the sync: %w", err)
	}
	var res mailsync.Result
	if err := run.Get(ctx, &res); err != nil {
		return roundResult{}, nil, fmt.Errorf("sync %s: %w", run.GetID(), err)
	}
	if len(res.FailedFolders) > 0 {
		return roundResult{}, nil, fmt.Errorf("sync %s: %d folders failed, first: %+v", run.GetID(), len(res.FailedFolders), res.FailedFolders[0])
	}
	syncWall := time.Since(started)
	if err := waitClosed(ctx, rw.client, ids); err != nil {
		return roundResult{}, nil, err
	}
	cpu1 := rw.child.cpu()
	q := fmt.Sprintf("OutlookflowTenant = %q AND WorkflowType = %q", key, reciperun.WorkflowName)
	first, lastStart, last, err := runWindow(ctx, rw.client, rw.cfg.Temporal.Namespace, q, ids)
	if err != nil {
		return roundResult{}, nil, err
	}
	return roundResult{runs: n, first: first, lastStart: lastStart, last: last, cpu: cpu1 - cpu0, graph: b.w.countRequests(rw.t).graph,
		actionReqs: b.actionRequests(mails), syncWall: syncWall, sampleRun: ids[0]}, mails, nil
}

// close disconnects the tenant (its workflow and sync schedule go) and
// stops the worker.
func (rw *recipeWorker) close(ctx context.Context) (childRun, error) {
	var errs []error
	if rw.connected {
		// A fresh context: a stopped bench still cleans up the server.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := rw.client.TerminateWorkflow(cctx, tenant.WorkflowID(rw.t.key), "", "bench done"); err != nil && !isNotFound(err) {
			errs = append(errs, err)
		}
		if err := rw.client.ScheduleClient().GetHandle(cctx, mailsync.ScheduleID(rw.t.key)).Delete(cctx); err != nil && !isNotFound(err) {
			errs = append(errs, err)
		}
		rw.connected = false
	}
	cr, err := rw.child.stop()
	rw.client.Close()
	return cr, errors.Join(append(errs, err)...)
}

// bareWorker is the bare-temporal worker and the parent's plain client.
type bareWorker struct {
	b         *bench
	t         *benchTenant
	client    client.Client
	namespace string
	taskQueue string
	child     *servedChild
}

func (b *bench) startBareWorker(ctx context.Context, t *benchTenant, name string) (*bareWorker, error) {
	w := b.w
	cfgPath := filepath.Join(w.dir, name+".config.yaml")
	if err := w.writeConfig(cfgPath, t, "bench-"+name, filepath.Join(w.dir, name+".db")); err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: w.temporal.HostPort, Namespace: w.temporal.Namespace, Logger: quietLogger{}})
	if err != nil {
		return nil, err
	}
	child, err := startServed(childSpec{System: sysBare, ConfigPath: cfgPath, TenantKey: t.key,
		Result: filepath.Join(w.dir, name+".result.json"), LogFile: filepath.Join(w.dir, name+".log")})
	if err != nil {
		c.Close()
		return nil, err
	}
	return &bareWorker{b: b, t: t, client: c, namespace: w.temporal.Namespace, taskQueue: "bench-" + name, child: child}, nil
}

func (bw *bareWorker) name() string { return sysBare }

// round delivers n mails and starts a bare run for each: one starter per
// mailbox, each starting its mailbox's runs one after another, as
// Dispatch does.
func (bw *bareWorker) round(ctx context.Context, n, seq int) (roundResult, []delivered, error) {
	b := bw.b
	mails, err := b.deliver(bw.t, n, fmt.Sprintf("bench-bare %d", seq))
	if err != nil {
		return roundResult{}, nil, err
	}
	ids := make([]string, len(mails))
	byMailbox := map[string][]int{}
	for i, m := range mails {
		ids[i] = fmt.Sprintf("bench-bare-%d-%d", seq, i)
		byMailbox[m.mailbox] = append(byMailbox[m.mailbox], i)
	}
	b.w.sim.ClearRequests()
	cpu0 := bw.child.cpu()
	var wg sync.WaitGroup
	errs := make([]error, len(mails))
	for _, idx := range byMailbox {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range idx {
				_, errs[i] = bw.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: ids[i], TaskQueue: bw.taskQueue}, bareWorkflowName,
					bareInput{Mailbox: mails[i].mailbox, MessageID: mails[i].id, Category: bareCategory})
				if errs[i] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return roundResult{}, nil, fmt.Errorf("starting bare runs: %w", err)
	}
	if err := waitClosed(ctx, bw.client, ids); err != nil {
		return roundResult{}, nil, err
	}
	cpu1 := bw.child.cpu()
	first, lastStart, last, err := runWindow(ctx, bw.client, bw.namespace, fmt.Sprintf("WorkflowType = %q", bareWorkflowName), ids)
	if err != nil {
		return roundResult{}, nil, err
	}
	return roundResult{runs: n, first: first, lastStart: lastStart, last: last, cpu: cpu1 - cpu0, graph: b.w.countRequests(bw.t).graph,
		actionReqs: b.actionRequests(mails), sampleRun: ids[0]}, mails, nil
}

func (bw *bareWorker) close(context.Context) (childRun, error) {
	cr, err := bw.child.stop()
	bw.client.Close()
	return cr, err
}

// recipeThroughput runs recipe-throughput: warm-up, then the rounds.
func (b *bench) recipeThroughput(ctx context.Context) (err error) {
	o := b.o
	b.w.latency(true)
	b.logf("%s: %d runs per system in %d rounds over %d mailboxes", scRecipeThroughput, o.RecipeRuns, o.RecipeRounds, o.RecipeMailboxes)
	tOF, err := b.recipeTenant("recipes")
	if err != nil {
		return err
	}
	tBare, err := b.recipeTenant("bare")
	if err != nil {
		return err
	}
	b.w.seq++
	prefix := fmt.Sprintf("%02d-%s-", b.w.seq, scRecipeThroughput)
	of, err := b.startRecipeWorker(ctx, tOF, prefix+sysOutlookflow, 24*time.Hour)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", scRecipeThroughput, sysOutlookflow, err)
	}
	bare, err := b.startBareWorker(ctx, tBare, prefix+sysBare)
	if err != nil {
		_, cerr := of.close(ctx)
		return errors.Join(fmt.Errorf("%s/%s: %w", scRecipeThroughput, sysBare, err), cerr)
	}
	systems := []throughputSystem{of, bare}
	closed := false
	closeAll := func() ([]childRun, error) {
		closed = true
		var runs []childRun
		var errs []error
		for _, s := range systems {
			cr, err := s.close(ctx)
			runs = append(runs, cr)
			errs = append(errs, err)
		}
		return runs, errors.Join(errs...)
	}
	defer func() {
		if !closed {
			_, cerr := closeAll()
			err = errors.Join(err, cerr)
		}
	}()

	seq := 0
	for _, s := range systems {
		seq++
		b.logf("%s: %s warm-up (%d runs, not measured) ...", scRecipeThroughput, s.name(), o.RecipeMailboxes)
		if _, _, err := s.round(ctx, o.RecipeMailboxes, seq); err != nil {
			return fmt.Errorf("%s/%s warm-up: %w", scRecipeThroughput, s.name(), err)
		}
	}
	results := make([][]roundResult, len(systems))
	mails := make([][]delivered, len(systems))
	for r := range o.RecipeRounds {
		n := o.RecipeRuns / o.RecipeRounds
		if r < o.RecipeRuns%o.RecipeRounds {
			n++
		}
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			s := systems[i]
			seq++
			b.logf("%s: %s round %d/%d (%d runs) ...", scRecipeThroughput, s.name(), r+1, o.RecipeRounds, n)
			res, m, err := s.round(ctx, n, seq)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", scRecipeThroughput, s.name(), err)
			}
			wall := res.last.Sub(res.first).Seconds()
			b.logf("%s: %s round %d: %d runs in %.1fs = %.1f runs/s", scRecipeThroughput, s.name(), r+1, res.runs, wall, float64(res.runs)/wall)
			results[i] = append(results[i], res)
			mails[i] = append(mails[i], m...)
		}
	}
	// Histories are read while the server still has them: one run each.
	actions := make([]actionCount, len(systems))
	for i := range systems {
		if actions[i], err = b.w.countActions(ctx, results[i][0].sampleRun, "", 0); err != nil {
			return fmt.Errorf("%s/%s: reading a run's history: %w", scRecipeThroughput, systems[i].name(), err)
		}
	}
	crs, err := closeAll()
	if err != nil {
		return err
	}
	for i, t := range []*benchTenant{tOF, tBare} {
		if err := b.checkActed(t, mails[i]); err != nil {
			return fmt.Errorf("%s/%s: %w", scRecipeThroughput, systems[i].name(), err)
		}
	}
	for i, s := range systems {
		b.add(throughputRow(s.name(), results[i], crs[i], actions[i], o))
	}
	return nil
}

// throughputRow sums a system's rounds into its row.
func throughputRow(system string, rounds []roundResult, cr childRun, acts actionCount, o Options) Row {
	row := Row{Scenario: scRecipeThroughput, System: system, CPUS: cr.CPUSeconds, PeakRSSBytes: cr.PeakRSSBytes, Mailboxes: o.RecipeMailboxes,
		LatencyFixedMs: float64(o.LatencyFixed.Microseconds()) / 1000, LatencyPerItemMs: float64(o.LatencyPerItem.Microseconds()) / 1000}
	var cpu float64
	var actionReqs int
	var syncWall time.Duration
	var starting float64
	var walls []string
	for _, r := range rounds {
		w := r.last.Sub(r.first).Seconds()
		row.WallS += w
		row.Runs += r.runs
		row.GraphRequests += r.graph
		actionReqs += r.actionReqs
		cpu += r.cpu
		syncWall += r.syncWall
		starting += r.lastStart.Sub(r.first).Seconds()
		walls = append(walls, fmt.Sprintf("%d in %.1fs", r.runs, w))
	}
	if row.WallS > 0 {
		row.RunsPerS = float64(row.Runs) / row.WallS
	}
	if row.Runs > 0 {
		row.CPUMsPerRun = cpu * 1000 / float64(row.Runs)
		row.TemporalActionsPerRun = float64(acts.total())
	}
	var parts []string
	for _, k := range acts.keys() {
		parts = append(parts, fmt.Sprintf("%s %d", k, acts[k]))
	}
	switch system {
	case sysOutlookflow:
		row.Notes = append(row.Notes,
			fmt.Sprintf("recipe markRead + setCategories on new mail; started as in production: mail delivered, one manual SyncRun per round whose Dispatch starts a RecipeRun per mail (the syncs took %.1fs in all)", syncWall.Seconds()))
	case sysBare:
		row.Notes = append(row.Notes,
			"a plain workflow of two activities making the same Graph requests through the same adapter (GET the message, PATCH isRead; GET, PATCH categories); started by a plain client, one starter per mailbox")
	}
	row.Notes = append(row.Notes,
		fmt.Sprintf("runs/s = runs / (last close - first start) summed over %d rounds (%s), alternated A B B A with the other system; a warm-up round of %d runs not counted", len(rounds), strings.Join(walls, ", "), o.RecipeMailboxes),
		fmt.Sprintf("the runs' starts spanned %.1fs of the %.1fs (first start to last start, summed over rounds)", starting, row.WallS),
		fmt.Sprintf("Graph: %d requests to the runs' mails (%.2f per run) of %d in all; CPU ms per run: the worker process during the rounds (sync and dispatch included for outlookflow)", actionReqs, float64(actionReqs)/float64(max(1, row.Runs)), row.GraphRequests),
		"one run's Temporal actions: "+strings.Join(parts, ", "))
	return row
}

// probe is one trigger-latency mail.
type probe struct {
	delivered
	action time.Time // the first action's first Graph request reached the simulator
}

// triggerLatency runs trigger-latency.
func (b *bench) triggerLatency(ctx context.Context) (err error) {
	o := b.o
	b.w.latency(true)
	b.logf("%s: %d mails over %s, sync every %s, %d mailboxes", scTriggerLatency, o.TriggerSamples, o.TriggerWindow, o.TriggerInterval, o.RecipeMailboxes)
	t, err := b.recipeTenant("trigger")
	if err != nil {
		return err
	}
	b.w.seq++
	rw, err := b.startRecipeWorker(ctx, t, fmt.Sprintf("%02d-%s-%s", b.w.seq, scTriggerLatency, sysOutlookflow), o.TriggerInterval)
	if err != nil {
		return fmt.Errorf("%s: %w", scTriggerLatency, err)
	}
	closed := false
	defer func() {
		if !closed {
			_, cerr := rw.close(ctx)
			err = errors.Join(err, cerr)
		}
	}()

	// Injection times: uniform over the window, from a fixed seed (their
	// phase against the schedule's still depends on the wall clock).
	rng := rand.New(rand.NewPCG(7, 2025))
	offsets := make([]time.Duration, o.TriggerSamples)
	for i := range offsets {
		offsets[i] = time.Duration(rng.Int64N(int64(o.TriggerWindow)))
	}
	slices.Sort(offsets)
	b.w.sim.ClearRequests()
	cpu0 := rw.child.cpu()
	begin := time.Now()
	probes := make([]probe, 0, len(offsets))
	for i, off := range offsets {
		if err := sleepCtx(ctx, time.Until(begin.Add(off))); err != nil {
			return err
		}
		d, err := b.deliverOne(t, t.mailboxes[rng.IntN(len(t.mailboxes))], fmt.Sprintf("%s probe %d", benchRecipeSubject, i))
		if err != nil {
			return err
		}
		probes = append(probes, probe{delivered: d})
	}
	b.logf("%s: %d mails injected; waiting for their runs' first Graph requests ...", scTriggerLatency, len(probes))
	index := map[string]int{}
	for i, p := range probes {
		index[p.id] = i
	}
	found := 0
	deadline := time.Now().Add(2*o.TriggerInterval + 2*time.Minute)
	for found < len(probes) {
		for _, r := range b.w.sim.Requests() {
			i := strings.LastIndex(r.Path, "/messages/")
			if i < 0 {
				continue
			}
			if k, ok := index[r.Path[i+len("/messages/"):]]; ok && (probes[k].action.IsZero() || r.Time.Before(probes[k].action)) {
				if probes[k].action.IsZero() {
					found++
				}
				probes[k].action = r.Time
			}
		}
		if found == len(probes) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d mails saw no action by %s (2 sync intervals + 2 minutes after the last)", scTriggerLatency, len(probes)-found, len(probes), deadline.Format("15:04:05"))
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	ids := make([]string, len(probes))
	var lastAction time.Time
	for i, p := range probes {
		ids[i] = benchRunID(t.key, p.id)
		if p.action.After(lastAction) {
			lastAction = p.action
		}
	}
	if err := waitClosed(ctx, rw.client, ids); err != nil {
		return fmt.Errorf("%s: %w", scTriggerLatency, err)
	}
	cpu1 := rw.child.cpu()
	graph := b.w.countRequests(t).graph
	syncs, err := listExecutions(ctx, rw.client, rw.cfg.Temporal.Namespace, fmt.Sprintf("OutlookflowTenant = %q AND WorkflowType = %q", t.key, mailsync.WorkflowName))
	if err != nil {
		return err
	}
	cr, err := rw.close(ctx)
	closed = true
	if err != nil {
		return err
	}
	if err := b.checkActed(t, func() []delivered {
		out := make([]delivered, len(probes))
		for i, p := range probes {
			out[i] = p.delivered
		}
		return out
	}()); err != nil {
		return fmt.Errorf("%s: %w", scTriggerLatency, err)
	}
	b.add(latencyRow(probes, syncs, lastAction.Sub(begin), cpu1-cpu0, graph, cr, o))
	return nil
}

// latencyRow computes the percentiles. after-sync-start is each action's
// time less the start of the latest sync run started before it (the run
// that carried the mail): what the sync, dispatch, the run's start and its
// first activity take, the interval's wait left out.
func latencyRow(probes []probe, syncs []*workflowExecution, wall time.Duration, cpu float64, graph int, cr childRun, o Options) Row {
	var lat, after []float64
	for _, p := range probes {
		lat = append(lat, p.action.Sub(p.at).Seconds())
		var carried time.Time
		for _, s := range syncs {
			if !s.start.After(p.action) && s.start.After(carried) {
				carried = s.start
			}
		}
		if !carried.IsZero() {
			after = append(after, p.action.Sub(carried).Seconds())
		}
	}
	row := Row{Scenario: scTriggerLatency, System: sysOutlookflow, WallS: wall.Seconds(), CPUS: cr.CPUSeconds, PeakRSSBytes: cr.PeakRSSBytes,
		Mailboxes: o.RecipeMailboxes, GraphRequests: graph, Samples: len(probes), SyncIntervalS: o.TriggerInterval.Seconds(),
		LatencyP50S: percentile(lat, 0.50), LatencyP95S: percentile(lat, 0.95), LatencyMaxS: slices.Max(lat),
		LatencyFixedMs: float64(o.LatencyFixed.Microseconds()) / 1000, LatencyPerItemMs: float64(o.LatencyPerItem.Microseconds()) / 1000}
	if len(after) > 0 {
		row.AfterSyncStartP50S, row.AfterSyncStartP95S = percentile(after, 0.50), percentile(after, 0.95)
	}
	if len(probes) > 0 {
		row.CPUMsPerRun = cpu * 1000 / float64(len(probes))
	}
	row.Notes = append(row.Notes,
		fmt.Sprintf("polling: the tenant's scheduled sync every %s (no change notifications); %d mails injected at uniformly random times over %s into random mailboxes of %d", o.TriggerInterval, len(probes), o.TriggerWindow, o.RecipeMailboxes),
		fmt.Sprintf("the wait for the next cycle is uniform over the interval (here %s; the worker accepts %s or more, default 15m), so p50 and p95 grow with it: about half of it and 95%% of it, plus after sync start", o.TriggerInterval, config.MinSyncInterval),
		"latency: injection to the first Graph request of the run's first action (markRead's GET of the message) arriving at the simulator; percentiles interpolated between ranks",
		fmt.Sprintf("after sync start: the same request less the start of the sync run that carried the mail (p50 %.2fs, p95 %.2fs over %d samples): sync, dispatch, run start, first activity", row.AfterSyncStartP50S, row.AfterSyncStartP95S, len(after)),
		fmt.Sprintf("%d sync runs in the tenant during the scenario; CPU ms per run: the worker process over the injection window and the runs, idle syncs included", len(syncs)))
	return row
}

// percentile of xs (0 ≤ p ≤ 1), interpolating linearly between ranks.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := p * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// workflowExecution is what the scenarios read from visibility.
type workflowExecution struct {
	id         string
	status     enumspb.WorkflowExecutionStatus
	start, end time.Time
}

func listExecutions(ctx context.Context, c client.Client, namespace, query string) ([]*workflowExecution, error) {
	var out []*workflowExecution
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: query, PageSize: 1000, NextPageToken: token})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.GetExecutions() {
			x := &workflowExecution{id: e.GetExecution().GetWorkflowId(), status: e.GetStatus(), start: e.GetStartTime().AsTime()}
			if e.GetCloseTime() != nil {
				x.end = e.GetCloseTime().AsTime()
			}
			out = append(out, x)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
	}
}

// waitClosed waits for each workflow to close (one long poll at a time;
// a run not started yet is waited for) and fails on the first that did
// not complete.
func waitClosed(ctx context.Context, c client.Client, ids []string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute+time.Duration(len(ids))*time.Second)
	defer cancel()
	for _, id := range ids {
		for {
			err := c.GetWorkflow(ctx, id, "").Get(ctx, nil)
			if err == nil {
				break
			}
			if !isNotFound(err) {
				return fmt.Errorf("run %s: %w", id, err)
			}
			if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
				return fmt.Errorf("run %s never started: %w", id, err)
			}
		}
	}
	return nil
}

// runWindow reads the runs' start and close times from visibility (which
// may lag their closing a little) and returns the first and last start and
// the last close.
func runWindow(ctx context.Context, c client.Client, namespace, query string, ids []string) (first, lastStart, last time.Time, err error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var seen int
	if !poll(ctx, 30*time.Second, 200*time.Millisecond, func() bool {
		var xs []*workflowExecution
		if xs, err = listExecutions(ctx, c, namespace, query); err != nil {
			return false
		}
		first, lastStart, last, seen = time.Time{}, time.Time{}, time.Time{}, 0
		for _, x := range xs {
			if !want[x.id] || x.end.IsZero() {
				continue
			}
			if x.status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				err = fmt.Errorf("run %s ended %s", x.id, x.status)
				return true
			}
			seen++
			if first.IsZero() || x.start.Before(first) {
				first = x.start
			}
			if x.start.After(lastStart) {
				lastStart = x.start
			}
			if x.end.After(last) {
				last = x.end
			}
		}
		return seen == len(want)
	}) && err == nil {
		err = fmt.Errorf("visibility shows %d of %d runs closed after 30s", seen, len(want))
	}
	return first, lastStart, last, err
}

// poll calls cond every interval until it holds (true) or timeout passes.
func poll(ctx context.Context, timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || sleepCtx(ctx, interval) != nil {
			return false
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
