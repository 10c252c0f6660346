package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one scenario run by one system: the JSON object and a table line.
type Row struct {
	Scenario      string  `json:"scenario"`
	System        string  `json:"system"`
	WallS         float64 `json:"wall_s"`
	Items         int     `json:"items"` // what the scenario brings up to date: all messages+events synced (initial, cpu), changed messages (incremental), 0 (idle)
	ItemsPerS     float64 `json:"items_per_s"`
	GraphRequests int     `json:"graph_requests"` // HTTPS round trips to Graph; a $batch is one
	// GraphItems counts requests as Graph's throttling does: each $batch
	// item on its own, the envelope not.
	GraphItems      int     `json:"graph_items"`
	TemporalActions int     `json:"temporal_actions"`
	PeakRSSBytes    int64   `json:"peak_rss_bytes"`
	CPUS            float64 `json:"cpu_s"` // the worker process's whole CPU time, startup included

	SyncCPUS float64 `json:"sync_cpu_s"` // CPU time during the sync alone (what cpu_ms_per_1k_messages and the profile cover)

	Mailboxes                  int            `json:"mailboxes"`
	MessagesStored             int            `json:"messages_stored"`
	EventsStored               int            `json:"events_stored"`
	EventsSynced               bool           `json:"events_synced"`
	ChangedReported            int            `json:"changed_reported"`
	Pages                      int            `json:"pages"`
	TokenRequests              int            `json:"token_requests"`
	LostDeltaTokens            int            `json:"lost_delta_tokens,omitempty"` // delta requests answered SyncStateNotFound (a resync, not an idle cycle)
	Cursors                    int            `json:"cursors,omitempty"`
	GraphRequestsPer1kMessages float64        `json:"graph_requests_per_1k_messages,omitempty"`
	GraphRequestsPerCursor     float64        `json:"graph_requests_per_cursor,omitempty"`
	GraphItemsPer1kMessages    float64        `json:"graph_items_per_1k_messages,omitempty"`
	GraphItemsPerCursor        float64        `json:"graph_items_per_cursor,omitempty"`
	ActionsPerMailbox          float64        `json:"temporal_actions_per_mailbox,omitempty"`
	Actions                    map[string]int `json:"temporal_actions_by_kind,omitempty"`
	CPUMsPer1kMessages         float64        `json:"cpu_ms_per_1k_messages,omitempty"` // sync_cpu_s per 1,000 messages (events count too, as work, not in the divisor)
	WallVsFloor                float64        `json:"wall_vs_floor,omitempty"`
	SpeedupVsNaive             float64        `json:"speedup_vs_naive,omitempty"`
	SampledMailboxes           int            `json:"sampled_mailboxes,omitempty"`
	Extrapolated               bool           `json:"extrapolated"`
	MeasuredWallS              float64        `json:"measured_wall_s,omitempty"`
	MeasuredCPUS               float64        `json:"measured_cpu_s,omitempty"`
	MeasuredGraphRequests      int            `json:"measured_graph_requests,omitempty"`
	LatencyFixedMs             float64        `json:"latency_fixed_ms"`
	LatencyPerItemMs           float64        `json:"latency_per_item_ms"`
	Profile                    string         `json:"cpu_profile,omitempty"`
	PprofTop                   []string       `json:"pprof_top,omitempty"`
	CPUBreakdown               []CPUShare     `json:"cpu_breakdown,omitempty"`

	// recipe-throughput: runs completed per second from the first run's
	// start to the last one's close (summed over rounds); RunsVsBare is
	// outlookflow's rate over bare-temporal's.
	Runs                  int     `json:"runs,omitempty"`
	RunsPerS              float64 `json:"runs_per_s,omitempty"`
	RunsVsBare            float64 `json:"runs_per_s_vs_bare,omitempty"`
	CPUMsPerRun           float64 `json:"cpu_ms_per_run,omitempty"`
	TemporalActionsPerRun float64 `json:"temporal_actions_per_run,omitempty"`
	// trigger-latency: from a mail's injection to its run's first action
	// request at the simulator, with the tenant's sync every SyncIntervalS;
	// AfterSyncStart* leave out the wait for the sync that carried the mail.
	SyncIntervalS      float64 `json:"sync_interval_s,omitempty"`
	Samples            int     `json:"samples,omitempty"`
	LatencyP50S        float64 `json:"latency_p50_s,omitempty"`
	LatencyP95S        float64 `json:"latency_p95_s,omitempty"`
	LatencyMaxS        float64 `json:"latency_max_s,omitempty"`
	AfterSyncStartP50S float64 `json:"after_sync_start_p50_s,omitempty"`
	AfterSyncStartP95S float64 `json:"after_sync_start_p95_s,omitempty"`

	Targets []Target `json:"targets,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// CPUShare is the part of a CPU profile spent under one area of the code.
type CPUShare struct {
	Area    string  `json:"area"`
	Seconds float64 `json:"seconds"`
	Percent float64 `json:"percent"`
}

// Target is one of the targets, evaluated on a row.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Op    string  `json:"op"` // "<=" or ">="
	Limit float64 `json:"limit"`
	Met   bool    `json:"met"`
}

func find(rows []Row, scenario, system string) *Row {
	for i := range rows {
		if rows[i].Scenario == scenario && rows[i].System == system {
			return &rows[i]
		}
	}
	return nil
}

// evaluateTargets fills the ratios and the targets into outlookflow's rows.
func evaluateTargets(rows []Row, o Options) {
	for i := range rows {
		r := &rows[i]
		if r.System != sysOutlookflow {
			continue
		}
		if f := find(rows, r.Scenario, sysFloor); f != nil && f.WallS > 0 {
			r.WallVsFloor = r.WallS / f.WallS
		}
		if n := find(rows, r.Scenario, sysNaive); n != nil && r.WallS > 0 {
			r.SpeedupVsNaive = n.WallS / r.WallS
		}
		add := func(name string, value float64, op string, limit float64) {
			met := value <= limit
			if op == ">=" {
				met = value >= limit
			}
			r.Targets = append(r.Targets, Target{Name: name, Value: value, Op: op, Limit: limit, Met: met})
		}
		switch r.Scenario {
		case scInitial:
			if r.WallVsFloor > 0 {
				add("wall time vs floor", r.WallVsFloor, "<=", 1.2)
			}
			if r.SpeedupVsNaive > 0 {
				add("speed-up over naive", r.SpeedupVsNaive, ">=", 20)
			}
			add("Graph round trips per 1,000 messages", r.GraphRequestsPer1kMessages, "<=", 3)
			add("worker peak RSS (MB)", float64(r.PeakRSSBytes)/1e6, "<=", 200)
		case scIdle:
			add("Temporal actions per mailbox", r.ActionsPerMailbox, "<=", 0.1)
			if r.Cursors > 0 {
				add("Graph requests per cursor (as Graph counts)", r.GraphItemsPerCursor, "<=", 1)
			}
		case scIdle10k:
			add("cycle wall time (s)", r.WallS, "<=", 60)
			add("Temporal actions per mailbox", r.ActionsPerMailbox, "<=", 0.1)
		case scCPU:
			add("worker CPU ms per 1,000 messages", r.CPUMsPer1kMessages, "<=", 50)
		case scRecipeThroughput:
			if bare := find(rows, scRecipeThroughput, sysBare); bare != nil && bare.RunsPerS > 0 {
				r.RunsVsBare = r.RunsPerS / bare.RunsPerS
				add("recipe runs/s vs bare Temporal", r.RunsVsBare, ">=", 0.9)
			}
		}
	}
}

// isRecipeScenario: the recipe scenarios' rows have tables of their own.
func isRecipeScenario(s string) bool { return s == scRecipeThroughput || s == scTriggerLatency }

func printReport(out io.Writer, rows []Row, o Options, took time.Duration) {
	printSyncTable(out, rows)
	printRecipeTables(out, rows)
	fmt.Fprintln(out, "\ntargets (outlookflow):")
	if !slices.ContainsFunc(rows, func(r Row) bool { return len(r.Targets) > 0 }) {
		fmt.Fprintln(out, "  none for the scenarios run")
	}
	for _, r := range rows {
		for _, t := range r.Targets {
			mark := "MET   "
			if !t.Met {
				mark = "MISSED"
			}
			fmt.Fprintf(out, "  %s %-17s %-43s %10.3f %s %g\n", mark, r.Scenario, t.Name, t.Value, t.Op, t.Limit)
		}
	}
	var notes []string
	for _, r := range rows {
		for _, n := range r.Notes {
			notes = append(notes, fmt.Sprintf("  %s/%s: %s", r.Scenario, r.System, n))
		}
		if len(r.Actions) > 0 {
			var parts []string
			for _, k := range actionCount(r.Actions).keys() {
				parts = append(parts, fmt.Sprintf("%s %d", k, r.Actions[k]))
			}
			notes = append(notes, fmt.Sprintf("  %s/%s: Temporal actions: %s", r.Scenario, r.System, strings.Join(parts, ", ")))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(out, "\nnotes:")
		fmt.Fprintln(out, strings.Join(notes, "\n"))
	}
	for _, r := range rows {
		if len(r.PprofTop) == 0 {
			continue
		}
		fmt.Fprintf(out, "\nwhere %s's CPU goes (cpu scenario, %s):\n", r.System, r.Profile)
		for _, c := range r.CPUBreakdown {
			fmt.Fprintf(out, "  %-48s %7.2fs %5.1f%%\n", c.Area, c.Seconds, c.Percent)
		}
		fmt.Fprintln(out, "  go tool pprof -top:")
		for _, l := range r.PprofTop {
			fmt.Fprintln(out, "  "+l)
		}
	}
	fmt.Fprintf(out, "\nbench took %s\n", took.Round(time.Second))
}

func hasExtrapolated(rows []Row) bool {
	for _, r := range rows {
		if r.Extrapolated {
			return true
		}
	}
	return false
}

func opt(v float64, format string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func writeJSON(path string, rows []Row) error {
	if rows == nil {
		rows = []Row{}
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// pprofTop is `go tool pprof -top` of a profile, first n lines.
func pprofTop(ctx context.Context, profile string, n int) []string {
	self, _ := os.Executable()
	args := []string{"tool", "pprof", "-top", "-nodecount=" + fmt.Sprint(n)}
	if self != "" {
		args = append(args, self)
	}
	args = append(args, profile)
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if err != nil {
		return append([]string{"go tool pprof failed: " + err.Error()}, lines...)
	}
	if len(lines) > n+6 {
		lines = lines[:n+6]
	}
	return lines
}

// cpuAreas split a profile into disjoint areas: a sample counts for the
// first area whose pattern matches a frame of its stack.
var cpuAreas = []struct{ name, focus string }{
	{"store (store package + modernc SQLite)", `outlookflow/store\.|modernc\.org/`},
	{"Graph adapter (activities/graphclient: decode)", `outlookflow/activities/graphclient\.`},
	{"HTTP, TLS, auth (net/http, kiota, azidentity)", `crypto/|net/http|golang\.org/x/net|microsoft/kiota|msgraph-sdk|azure-sdk|AzureAD`},
	{"Temporal SDK and gRPC", `go\.temporal\.io|google\.golang\.org/grpc`},
	{"sync activities (activities)", `outlookflow/activities\.`},
	{"garbage collector (background)", `runtime\.gcBgMarkWorker`},
}

// pprofBreakdown measures each area with `go tool pprof -focus`, ignoring
// what earlier areas took; the rest is "other".
func pprofBreakdown(ctx context.Context, profile string) []CPUShare {
	var out []CPUShare
	var ignore []string
	var total, taken float64
	for _, a := range cpuAreas {
		args := []string{"tool", "pprof", "-top", "-nodecount=1000000", "-nodefraction=0", "-edgefraction=0", "-focus=" + a.focus}
		if len(ignore) > 0 {
			args = append(args, "-ignore="+strings.Join(ignore, "|"))
		}
		b, err := exec.CommandContext(ctx, "go", append(args, profile)...).CombinedOutput()
		if err != nil {
			return nil
		}
		secs, tot, ok := parseShowing(string(b))
		if ok {
			total = tot
			taken += secs
			out = append(out, CPUShare{Area: a.name, Seconds: secs})
		} else {
			out = append(out, CPUShare{Area: a.name})
		}
		ignore = append(ignore, a.focus)
	}
	if total <= 0 {
		return nil
	}
	out = append(out, CPUShare{Area: "other (runtime, allocation, scheduler...)", Seconds: total - taken})
	for i := range out {
		out[i].Percent = 100 * out[i].Seconds / total
	}
	return out
}

// parseShowing reads "Showing nodes accounting for 12.24s, 19.27% of
// 63.52s total" (pprof prints no such line when nothing matched).
func parseShowing(s string) (secs, total float64, ok bool) {
	for _, line := range strings.Split(s, "\n") {
		rest, found := strings.CutPrefix(strings.TrimSpace(line), "Showing nodes accounting for ")
		if !found {
			continue
		}
		var pct float64
		var a, t string
		if _, err := fmt.Sscanf(rest, "%s %f%% of %s total", &a, &pct, &t); err != nil {
			return 0, 0, false
		}
		as, err1 := pprofSeconds(strings.TrimSuffix(a, ","))
		ts, err2 := pprofSeconds(t)
		if err1 != nil || err2 != nil {
			return 0, 0, false
		}
		return as, ts, true
	}
	return 0, 0, false
}

// pprofSeconds reads pprof's durations: "0", "250ms", "12.24s", "1.05mins", "1.2hrs".
func pprofSeconds(v string) (float64, error) {
	for unit, mult := range map[string]float64{"mins": 60, "hrs": 3600} {
		if n, ok := strings.CutSuffix(v, unit); ok {
			var f float64
			_, err := fmt.Sscanf(n, "%g", &f)
			return f * mult, err
		}
	}
	d, err := time.ParseDuration(v)
	return d.Seconds(), err
}

// printSyncTable prints the sync scenarios' rows.
func printSyncTable(out io.Writer, rows []Row) {
	if !slices.ContainsFunc(rows, func(r Row) bool { return !isRecipeScenario(r.Scenario) }) {
		return
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tsystem\twall s\titems\titems/s\tGraph req\treq/1k msg\treq/cursor\tGraph items\titems/1k msg\titems/cursor\tactions\tact/mbx\tpeak RSS MB\tCPU s\tCPU ms/1k msg\tvs floor\tnaive/x\t")
	for _, r := range rows {
		if isRecipeScenario(r.Scenario) {
			continue
		}
		sys := r.System
		if r.Extrapolated {
			sys += "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%d\t%.0f\t%d\t%s\t%s\t%d\t%s\t%s\t%d\t%s\t%.0f\t%.1f\t%s\t%s\t%s\t\n",
			r.Scenario, sys, r.WallS, r.Items, r.ItemsPerS, r.GraphRequests, opt(r.GraphRequestsPer1kMessages, "%.2f"),
			opt(r.GraphRequestsPerCursor, "%.2f"), r.GraphItems, opt(r.GraphItemsPer1kMessages, "%.2f"), opt(r.GraphItemsPerCursor, "%.2f"), r.TemporalActions, opt(r.ActionsPerMailbox, "%.3f"),
			float64(r.PeakRSSBytes)/1e6, r.CPUS, opt(r.CPUMsPer1kMessages, "%.1f"), opt(r.WallVsFloor, "%.2fx"), opt(r.SpeedupVsNaive, "%.1fx"))
	}
	_ = tw.Flush()
	if hasExtrapolated(rows) {
		fmt.Fprintln(out, "* sampled and extrapolated linearly (the naive loop is sequential); see sampled_mailboxes in the JSON")
	}
}

// printRecipeTables prints the recipe scenarios' rows.
func printRecipeTables(out io.Writer, rows []Row) {
	var through, latency []Row
	for _, r := range rows {
		switch r.Scenario {
		case scRecipeThroughput:
			through = append(through, r)
		case scTriggerLatency:
			latency = append(latency, r)
		}
	}
	if len(through) > 0 {
		fmt.Fprintln(out)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\tsystem\truns\twall s\truns/s\tvs bare\tGraph req\tactions/run\tCPU ms/run\tpeak RSS MB\tCPU s\t")
		for _, r := range through {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.2f\t%s\t%d\t%.0f\t%.1f\t%.0f\t%.1f\t\n", r.Scenario, r.System, r.Runs, r.WallS, r.RunsPerS,
				opt(r.RunsVsBare, "%.2fx"), r.GraphRequests, r.TemporalActionsPerRun, r.CPUMsPerRun, float64(r.PeakRSSBytes)/1e6, r.CPUS)
		}
		_ = tw.Flush()
	}
	if len(latency) > 0 {
		fmt.Fprintln(out)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\tsystem\tsync every s\tsamples\tp50 s\tp95 s\tmax s\tafter sync start p50 s\tp95 s\tpeak RSS MB\t")
		for _, r := range latency {
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%.0f\t\n", r.Scenario, r.System, r.SyncIntervalS, r.Samples,
				r.LatencyP50S, r.LatencyP95S, r.LatencyMaxS, r.AfterSyncStartP50S, r.AfterSyncStartP95S, float64(r.PeakRSSBytes)/1e6)
		}
		_ = tw.Flush()
	}
}
