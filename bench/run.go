package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/outlookflow/outlookflow/graphsim"
)

// Run runs the selected scenarios, prints the table and writes the JSON.
func Run(ctx context.Context, o Options, stdout io.Writer) error {
	started := time.Now()
	dir, err := os.MkdirTemp("", "outlookflow-bench-")
	if err != nil {
		return err
	}
	if o.Keep {
		fmt.Fprintf(stdout, "work directory (kept): %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.ProfileDir == "" {
		o.ProfileDir = filepath.Dir(o.Out)
	}
	fmt.Fprintf(stdout, "outlookflow bench, scale %s: %d mailboxes x %d messages (%d folders) + %d events; idle-10k %d mailboxes x %d; naive on %d mailboxes; latency %s + %s/item\n",
		o.Scale, o.Mailboxes, o.MessagesPerMailbox, o.Folders, o.EventsPerMailbox, o.IdleMailboxes, o.IdleMessagesPerMbx, o.NaiveSample, o.LatencyFixed, o.LatencyPerItem)
	fmt.Fprintf(stdout, "recipes: %d mailboxes; recipe-throughput %d runs per system in %d rounds; trigger-latency %d mails over %s, sync every %s; scenarios: %s\n",
		o.RecipeMailboxes, o.RecipeRuns, o.RecipeRounds, o.TriggerSamples, o.TriggerWindow, o.TriggerInterval, strings.Join(o.Scenarios, ","))
	w, err := startWorld(ctx, o, dir)
	if err != nil {
		return err
	}
	defer w.close()
	b := &bench{w: w, o: o, out: stdout}
	runErr := b.run(ctx)
	evaluateTargets(b.rows, o)
	printReport(stdout, b.rows, o, time.Since(started))
	if err := writeJSON(o.Out, b.rows); err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Fprintf(stdout, "\nresults: %s (%d rows); total %s\n", o.Out, len(b.rows), time.Since(started).Round(time.Second))
	return runErr
}

// bench carries one invocation's state between scenarios.
type bench struct {
	w    *world
	o    Options
	out  io.Writer
	rows []Row
}

// systemState is one system's place in a tenant: its store (or the naive
// loop's table), kept from scenario to scenario like a real deployment's.
type systemState struct {
	system    string
	tenant    *benchTenant
	storePath string
}

func (b *bench) run(ctx context.Context) error {
	o := b.o
	mainScenarios := o.runs(scInitial) || o.runs(scIncremental) || o.runs(scIdle)
	var tA *benchTenant
	if mainScenarios || o.runs(scCPU) {
		b.logf("seeding %d mailboxes x %d messages + %d events", o.Mailboxes, o.MessagesPerMailbox, o.EventsPerMailbox)
		var err error
		if tA, err = b.w.seedTenant("bench", o.Mailboxes, o.MessagesPerMailbox, o.EventsPerMailbox, o.Folders); err != nil {
			return err
		}
	}
	if mainScenarios {
		if err := b.mainScenarios(ctx, tA); err != nil {
			return err
		}
	}
	if o.runs(scIdle10k) {
		if err := b.idle10k(ctx); err != nil {
			return err
		}
	}
	if o.runs(scCPU) {
		if err := b.cpu(ctx, tA); err != nil {
			return err
		}
	}
	if o.runs(scRecipeThroughput) {
		if err := b.recipeThroughput(ctx); err != nil {
			return err
		}
	}
	if o.runs(scTriggerLatency) {
		if err := b.triggerLatency(ctx); err != nil {
			return err
		}
	}
	return nil
}

// mainScenarios: initial, then 1% changed (incremental), then nothing
// changed (idle), each for the three systems on their own stores.
func (b *bench) mainScenarios(ctx context.Context, t *benchTenant) error {
	systems := []*systemState{
		{system: sysOutlookflow, tenant: t, storePath: filepath.Join(b.w.dir, "outlookflow-main.db")},
		{system: sysFloor, tenant: t, storePath: filepath.Join(b.w.dir, "floor-main.db")},
		{system: sysNaive, tenant: t, storePath: filepath.Join(b.w.dir, "naive-main.db")},
	}
	b.w.latency(true)
	// incremental and idle need a synced store: without the initial
	// scenario, an unmeasured first sync (no latency) makes one.
	if !b.o.runs(scInitial) {
		b.w.latency(false)
		for _, s := range systems {
			if _, err := b.measure(ctx, "prep", s, scenarioExpect{}); err != nil {
				return err
			}
		}
		b.w.latency(true)
	}
	if b.o.runs(scInitial) {
		for _, s := range systems {
			row, err := b.measure(ctx, scInitial, s, scenarioExpect{})
			if err != nil {
				return err
			}
			b.add(row)
		}
	}
	var changes []change
	if b.o.runs(scIncremental) {
		var err error
		if changes, err = b.change(t); err != nil {
			return err
		}
		for _, s := range systems {
			row, err := b.measure(ctx, scIncremental, s, scenarioExpect{changes: changes})
			if err != nil {
				return err
			}
			b.add(row)
		}
	}
	if b.o.runs(scIdle) {
		for _, s := range systems {
			row, err := b.measure(ctx, scIdle, s, scenarioExpect{changes: changes, idle: true})
			if err != nil {
				return err
			}
			b.add(row)
		}
	}
	return nil
}

// idle10k: many small mailboxes, nothing changed. The first sync that
// fills each store is not measured (and runs without latency unless
// -idle-prep-latency); the measured cycle runs with it.
func (b *bench) idle10k(ctx context.Context) error {
	o := b.o
	b.logf("seeding %d mailboxes x %d messages", o.IdleMailboxes, o.IdleMessagesPerMbx)
	t, err := b.w.seedTenant("bench10k", o.IdleMailboxes, o.IdleMessagesPerMbx, 0, min(o.Folders, max(1, o.IdleMessagesPerMbx)))
	if err != nil {
		return err
	}
	systems := []*systemState{
		{system: sysOutlookflow, tenant: t, storePath: filepath.Join(b.w.dir, "outlookflow-10k.db")},
		{system: sysFloor, tenant: t, storePath: filepath.Join(b.w.dir, "floor-10k.db")},
	}
	b.w.latency(o.IdleLatencyFromStart)
	for _, s := range systems {
		if _, err := b.measure(ctx, "prep", s, scenarioExpect{}); err != nil {
			return err
		}
	}
	b.w.latency(true)
	for _, s := range systems {
		row, err := b.measure(ctx, scIdle10k, s, scenarioExpect{idle: true})
		if err != nil {
			return err
		}
		b.add(row)
	}
	return nil
}

// cpu: the initial sync again on fresh stores, without latency, profiled.
func (b *bench) cpu(ctx context.Context, t *benchTenant) error {
	b.w.latency(false)
	defer b.w.latency(true)
	for _, sys := range []string{sysOutlookflow, sysFloor} {
		s := &systemState{system: sys, tenant: t, storePath: filepath.Join(b.w.dir, sys+"-cpu.db")}
		row, err := b.measure(ctx, scCPU, s, scenarioExpect{profile: filepath.Join(b.o.ProfileDir, "cpu-"+sys+".pprof")})
		if err != nil {
			return err
		}
		b.add(row)
	}
	return nil
}

func (b *bench) add(r Row) {
	b.rows = append(b.rows, r)
	switch r.Scenario {
	case scRecipeThroughput:
		b.logf("%-12s %-13s %d runs in %.1fs = %.2f runs/s  %.1f CPU ms/run", r.Scenario, r.System, r.Runs, r.WallS, r.RunsPerS, r.CPUMsPerRun)
		return
	case scTriggerLatency:
		b.logf("%-12s %-11s %d samples, sync every %.0fs: p50 %.1fs  p95 %.1fs  max %.1fs", r.Scenario, r.System, r.Samples, r.SyncIntervalS, r.LatencyP50S, r.LatencyP95S, r.LatencyMaxS)
		return
	}
	b.logf("%-12s %-11s %8.1fs  %d items  %d Graph requests  %d actions  %.0f MB  %.1f s CPU",
		r.Scenario, r.System, r.WallS, r.Items, r.GraphRequests, r.TemporalActions, float64(r.PeakRSSBytes)/(1<<20), r.CPUS)
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.out, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// change is one message the incremental scenario changed.
type change struct {
	mailbox, id, subject string
}

// change edits ChangedFraction of every mailbox's messages (their subject),
// as a user would: each shows up as updated in its folder's next delta.
func (b *bench) change(t *benchTenant) ([]change, error) {
	per := int(float64(t.seed.MessagesPerMailbox)*b.o.ChangedFraction + 0.5)
	if per < 1 {
		per = 1
	}
	var out []change
	for _, mb := range t.mailboxes {
		msgs, err := b.w.sim.Mailbox(t.creds.TenantID, mb, "")
		if err != nil {
			return nil, err
		}
		step := max(1, len(msgs)/per)
		for i := 0; i < len(msgs) && i/step < per; i += step {
			subject := msgs[i].Subject + " (changed by bench)"
			if err := b.w.sim.UpdateMessage(t.creds.TenantID, mb, msgs[i].ID, graphsim.MessageUpdate{Subject: &subject}); err != nil {
				return nil, err
			}
			out = append(out, change{mailbox: mb, id: msgs[i].ID, subject: subject})
		}
	}
	b.logf("changed %d messages (%d per mailbox)", len(out), per)
	return out, nil
}
