package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/outlookflow/outlookflow/config"
)

// Scenario names, in the order they run.
const (
	scInitial     = "initial"
	scIncremental = "incremental"
	scIdle        = "idle"
	scIdle10k     = "idle-10k"
	scCPU         = "cpu"
	// Recipes (issue 7): run throughput against a bare Temporal workflow,
	// and the polling trigger's latency. See recipes.go.
	scRecipeThroughput = "recipe-throughput"
	scTriggerLatency   = "trigger-latency"
)

var allScenarios = []string{scInitial, scIncremental, scIdle, scIdle10k, scCPU, scRecipeThroughput, scTriggerLatency}

// System names.
const (
	sysOutlookflow = "outlookflow"
	sysFloor       = "floor"
	sysNaive       = "naive"
	// sysBare is recipe-throughput's baseline: a plain Temporal worker
	// running a two-activity workflow (bare.go).
	sysBare = "bare-temporal"
)

// Options are the sizes and switches of one bench invocation.
type Options struct {
	Scale string // full | small: the preset the size flags start from

	Mailboxes          int // initial / incremental / idle / cpu
	MessagesPerMailbox int
	EventsPerMailbox   int
	Folders            int     // message folders the seed fills (3: inbox, sent items, a custom one)
	ChangedFraction    float64 // incremental: share of messages changed

	IdleMailboxes        int // idle-10k
	IdleMessagesPerMbx   int
	NaiveSample          int // mailboxes the naive loop really syncs; its wall time is extrapolated
	FloorParallel        int // mailboxes the floor syncs at once
	LatencyFixed         time.Duration
	LatencyPerItem       time.Duration
	MailboxLimits        bool // the simulator enforces Graph's 4-in-flight / 10,000-per-10-minutes limits
	Scenarios            []string
	Out                  string // JSON results
	Keep                 bool   // keep the work directory (stores, logs, profiles)
	PprofLines           int
	TemporalLog          string // dev server output; "" discards it
	ChildTimeout         time.Duration
	ProfileDir           string // where cpu-*.pprof go; default: beside Out
	IdleLatencyFromStart bool   // idle-10k: also run the (unmeasured) first sync with latency

	RecipeMailboxes int           // recipe-throughput and trigger-latency: mailboxes of their tenants
	RecipeRuns      int           // recipe-throughput: measured runs per system
	RecipeRounds    int           // recipe-throughput: rounds the runs are split into, alternated ABBA between the systems
	TriggerSamples  int           // trigger-latency: mails injected
	TriggerWindow   time.Duration // trigger-latency: span the injections are spread over
	TriggerInterval time.Duration // trigger-latency: the tenant's configured sync interval
}

// presets are the sizes the issue asks for (full) and a quick end-to-end
// check (small).
var presets = map[string]Options{
	"full": {
		Mailboxes: 200, MessagesPerMailbox: 2000, EventsPerMailbox: 50, Folders: 3, ChangedFraction: 0.01,
		IdleMailboxes: 10000, IdleMessagesPerMbx: 5, NaiveSample: 5,
		RecipeMailboxes: 10, RecipeRuns: 400, RecipeRounds: 2, TriggerSamples: 30, TriggerWindow: 4 * time.Minute, TriggerInterval: time.Minute,
	},
	"small": {
		Mailboxes: 10, MessagesPerMailbox: 200, EventsPerMailbox: 5, Folders: 3, ChangedFraction: 0.01,
		IdleMailboxes: 500, IdleMessagesPerMbx: 5, NaiveSample: 2,
		RecipeMailboxes: 10, RecipeRuns: 60, RecipeRounds: 2, TriggerSamples: 8, TriggerWindow: 90 * time.Second, TriggerInterval: time.Minute,
	},
}

// parseOptions reads flags over the preset BENCH_SCALE (or -scale) names;
// BENCH_OUT names the JSON file.
func parseOptions(args []string, lookup func(string) (string, bool)) (Options, error) {
	scale := "full"
	if v, ok := lookup("BENCH_SCALE"); ok && v != "" {
		scale = v
	}
	// -scale must be known before the other defaults are: scan for it first.
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "-scale="); ok {
			scale = v
		} else if (a == "-scale" || a == "--scale") && i+1 < len(args) {
			scale = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--scale="); ok {
			scale = v
		}
	}
	p, ok := presets[scale]
	if !ok {
		return Options{}, fmt.Errorf("BENCH_SCALE/-scale %q: use full or small", scale)
	}
	out := "bench/results.json"
	if v, ok := lookup("BENCH_OUT"); ok && v != "" {
		out = v
	}
	o := p
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.Scale, "scale", scale, "size preset: full (the issue's sizes) or small (a quick end-to-end check); also BENCH_SCALE")
	fs.IntVar(&o.Mailboxes, "mailboxes", p.Mailboxes, "mailboxes for initial, incremental, idle and cpu")
	fs.IntVar(&o.MessagesPerMailbox, "messages", p.MessagesPerMailbox, "messages per mailbox")
	fs.IntVar(&o.EventsPerMailbox, "events", p.EventsPerMailbox, "events per mailbox")
	fs.IntVar(&o.Folders, "folders", p.Folders, "message folders the messages are spread over")
	fs.Float64Var(&o.ChangedFraction, "changed", p.ChangedFraction, "incremental: fraction of messages changed")
	fs.IntVar(&o.IdleMailboxes, "idle-mailboxes", p.IdleMailboxes, "idle-10k: mailboxes")
	fs.IntVar(&o.IdleMessagesPerMbx, "idle-messages", p.IdleMessagesPerMbx, "idle-10k: messages per mailbox")
	fs.IntVar(&o.NaiveSample, "naive-sample", p.NaiveSample, "mailboxes the naive loop syncs (wall time, CPU and requests extrapolated linearly); 0 = all")
	fs.IntVar(&o.FloorParallel, "floor-parallel", 32, "mailboxes the floor syncs at once (outlookflow's default: 4 batches x 8 mailboxes)")
	fs.DurationVar(&o.LatencyFixed, "latency-fixed", 50*time.Millisecond, "simulated latency per Graph request (not in cpu)")
	fs.DurationVar(&o.LatencyPerItem, "latency-per-item", 100*time.Microsecond, "simulated latency per item of a returned page (not in cpu)")
	fs.BoolVar(&o.MailboxLimits, "mailbox-limits", true, "the simulator enforces Graph's per-mailbox limits (4 in flight, 10,000 per 10 minutes)")
	fs.IntVar(&o.RecipeMailboxes, "recipe-mailboxes", p.RecipeMailboxes, "recipe-throughput and trigger-latency: mailboxes the mails go to")
	fs.IntVar(&o.RecipeRuns, "recipe-runs", p.RecipeRuns, "recipe-throughput: measured runs per system")
	fs.IntVar(&o.RecipeRounds, "recipe-rounds", p.RecipeRounds, "recipe-throughput: rounds the runs are split into (systems alternate A B B A ...)")
	fs.IntVar(&o.TriggerSamples, "trigger-samples", p.TriggerSamples, "trigger-latency: mails injected at random times")
	fs.DurationVar(&o.TriggerWindow, "trigger-window", p.TriggerWindow, "trigger-latency: span the injections are spread over")
	fs.DurationVar(&o.TriggerInterval, "trigger-interval", p.TriggerInterval, "trigger-latency: the tenant's sync interval (tenants[].syncInterval; at least 1m)")
	scen := fs.String("scenarios", strings.Join(allScenarios, ","), "scenarios to run, comma-separated")
	fs.StringVar(&o.Out, "out", out, "JSON results file; also BENCH_OUT")
	fs.StringVar(&o.ProfileDir, "profile-dir", "", "where the cpu scenario's profiles go (default: beside -out)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the work directory (stores, worker logs)")
	fs.IntVar(&o.PprofLines, "pprof-lines", 25, "lines of `go tool pprof -top` printed per profile")
	fs.StringVar(&o.TemporalLog, "temporal-log", "", "file for the Temporal dev server's output (default: discarded)")
	fs.DurationVar(&o.ChildTimeout, "child-timeout", 20*time.Minute, "longest one system's sync may take")
	fs.BoolVar(&o.IdleLatencyFromStart, "idle-prep-latency", false, "idle-10k: run the unmeasured first sync with latency too (slower)")
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	o.Scenarios = nil
	for _, s := range strings.Split(*scen, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return Options{}, fmt.Errorf("-scenarios: unknown scenario %q; known: %s", s, strings.Join(allScenarios, ", "))
		}
		o.Scenarios = append(o.Scenarios, s)
	}
	switch {
	case o.Mailboxes < 1 || o.IdleMailboxes < 1:
		return Options{}, fmt.Errorf("-mailboxes and -idle-mailboxes must be at least 1")
	case o.MessagesPerMailbox < 1 || o.Folders < 1:
		return Options{}, fmt.Errorf("-messages and -folders must be at least 1")
	case o.ChangedFraction < 0 || o.ChangedFraction > 1:
		return Options{}, fmt.Errorf("-changed must be within 0..1")
	case o.FloorParallel < 1:
		return Options{}, fmt.Errorf("-floor-parallel must be at least 1")
	case o.RecipeMailboxes < 1 || o.RecipeRounds < 1 || o.RecipeRuns < o.RecipeRounds:
		return Options{}, fmt.Errorf("-recipe-mailboxes and -recipe-rounds must be at least 1, -recipe-runs at least -recipe-rounds")
	case o.TriggerSamples < 1 || o.TriggerWindow <= 0:
		return Options{}, fmt.Errorf("-trigger-samples must be at least 1 and -trigger-window positive")
	case o.TriggerInterval < config.MinSyncInterval:
		return Options{}, fmt.Errorf("-trigger-interval %s: the worker refuses a sync interval under %s", o.TriggerInterval, config.MinSyncInterval)
	}
	if o.NaiveSample <= 0 || o.NaiveSample > o.Mailboxes {
		o.NaiveSample = o.Mailboxes
	}
	return o, nil
}

func (o Options) runs(s string) bool { return slices.Contains(o.Scenarios, s) }
