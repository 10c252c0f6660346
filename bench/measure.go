package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
)

// scenarioExpect is what a scenario's run must leave behind.
type scenarioExpect struct {
	changes []change // applied before this run (or an earlier one)
	idle    bool     // nothing changed since the system's last run
	profile string   // write a CPU profile here
}

// measure runs one system's sync in a child, then checks its store and
// builds the row.
func (b *bench) measure(ctx context.Context, scenario string, s *systemState, exp scenarioExpect) (Row, error) {
	w := b.w
	t := s.tenant
	w.seq++
	name := fmt.Sprintf("%02d-%s-%s", w.seq, scenario, s.system)
	cfgPath := filepath.Join(w.dir, name+".config.yaml")
	if err := w.writeConfig(cfgPath, t, "bench-"+name, s.storePath); err != nil {
		return Row{}, err
	}
	spec := childSpec{
		System:     s.system,
		ConfigPath: cfgPath,
		TenantKey:  t.key,
		WorkflowID: mailsync.WorkflowID(t.key, "bench-"+name),
		Result:     filepath.Join(w.dir, name+".result.json"),
		LogFile:    filepath.Join(w.dir, name+".log"),
		CPUProfile: exp.profile,
	}
	switch s.system {
	case sysFloor:
		spec.FloorParallel = b.o.FloorParallel
	case sysNaive:
		spec.NaiveDB = s.storePath
		spec.NaiveSample = b.o.NaiveSample
	}
	if scenario == "prep" {
		b.logf("%s: first sync (not measured) ...", s.system)
	} else {
		b.logf("%s: %s ...", scenario, s.system)
	}
	w.sim.ClearRequests()
	cr, err := runChild(ctx, spec, b.o.ChildTimeout)
	if err != nil {
		return Row{}, fmt.Errorf("%s/%s: %w", scenario, s.system, err)
	}
	reqs := w.countRequests(t)
	w.sim.ClearRequests()

	row := Row{Scenario: scenario, System: s.system, WallS: cr.WallSeconds, GraphRequests: reqs.graph, GraphItems: reqs.items, TokenRequests: reqs.token,
		PeakRSSBytes: cr.PeakRSSBytes, CPUS: cr.CPUSeconds, SyncCPUS: cr.SyncCPUSeconds, Mailboxes: len(t.mailboxes), ChangedReported: cr.Changed, Pages: cr.Pages}
	if scenario != scCPU {
		row.LatencyFixedMs = float64(b.o.LatencyFixed.Microseconds()) / 1000
		row.LatencyPerItemMs = float64(b.o.LatencyPerItem.Microseconds()) / 1000
	}

	// What the store holds must match the simulator.
	var st storeState
	if s.system == sysNaive {
		st, err = checkNaive(ctx, s.storePath, t, cr.Sampled, exp.changes)
	} else {
		st, err = checkStore(ctx, s.storePath, t, exp.changes)
	}
	if err != nil {
		return Row{}, fmt.Errorf("%s/%s: the store does not match the simulator: %w", scenario, s.system, err)
	}
	row.MessagesStored, row.EventsStored, row.EventsSynced, row.Cursors = st.messages, st.events, st.events > 0, st.cursors
	if exp.idle && s.system != sysNaive && cr.Changed != 0 {
		return Row{}, fmt.Errorf("%s/%s: nothing changed, but the sync reported %d changed items", scenario, s.system, cr.Changed)
	}

	if s.system == sysOutlookflow {
		acts, err := w.countActions(ctx, spec.WorkflowID, cr.RunID, cr.Heartbeats)
		if err != nil {
			return Row{}, fmt.Errorf("%s/%s: reading the run's history: %w", scenario, s.system, err)
		}
		row.TemporalActions, row.Actions = acts.total(), acts
	}

	// Items: what the scenario asks to bring up to date.
	switch {
	case exp.idle:
		row.Items = 0
	case len(exp.changes) > 0:
		row.Items = len(exp.changes)
		if s.system != sysNaive && cr.Changed != len(exp.changes) {
			row.Notes = append(row.Notes, fmt.Sprintf("reported %d changed items for %d changed messages", cr.Changed, len(exp.changes)))
		}
	default:
		row.Items = st.messages + st.events
	}

	// The naive loop syncs a sample: scale what grows with mailboxes.
	if s.system == sysNaive && cr.Sampled < len(t.mailboxes) {
		f := float64(len(t.mailboxes)) / float64(cr.Sampled)
		row.SampledMailboxes, row.Extrapolated = cr.Sampled, true
		row.MeasuredWallS, row.MeasuredCPUS, row.MeasuredGraphRequests = row.WallS, row.CPUS, row.GraphRequests
		row.WallS *= f
		row.CPUS += row.SyncCPUS * (f - 1) // startup once, the sync scaled
		row.SyncCPUS *= f
		row.GraphRequests = reqs.graph - reqs.mailbox + int(float64(reqs.mailbox)*f+0.5)
		row.GraphItems = row.GraphRequests
		if !exp.idle && len(exp.changes) == 0 {
			row.Items = t.messages // it stores messages only, no events
		}
		row.Notes = append(row.Notes, fmt.Sprintf("synced %d of %d mailboxes; wall, CPU and mailbox requests scaled x%.1f (CPU: the sync part)", cr.Sampled, len(t.mailboxes), f))
	}
	if row.WallS > 0 {
		row.ItemsPerS = float64(row.Items) / row.WallS
	}
	msgs := t.messages
	if scenario == scInitial || scenario == scCPU {
		row.GraphRequestsPer1kMessages = float64(row.GraphRequests) / (float64(msgs) / 1000)
		row.GraphItemsPer1kMessages = float64(row.GraphItems) / (float64(msgs) / 1000)
		row.CPUMsPer1kMessages = row.SyncCPUS * 1000 / (float64(msgs) / 1000)
	}
	if row.Mailboxes > 0 && s.system == sysOutlookflow {
		row.ActionsPerMailbox = float64(row.TemporalActions) / float64(row.Mailboxes)
	}
	if row.Cursors > 0 && exp.idle {
		row.GraphRequestsPerCursor = float64(row.GraphRequests) / float64(row.Cursors)
		row.GraphItemsPerCursor = float64(row.GraphItems) / float64(row.Cursors)
	}
	if reqs.lost > 0 {
		row.LostDeltaTokens = reqs.lost
		why := ""
		if !w.bigTokenCache {
			why = " (the simulator keeps only 50,000 delta tokens, across tenants and systems: see graphsim/delta.go maxSyncStates)"
		}
		row.Notes = append(row.Notes, fmt.Sprintf("%d delta requests answered SyncStateNotFound and restarted their folder from scratch%s", reqs.lost, why))
	}
	if st.events == 0 && t.events > 0 && s.system == sysOutlookflow {
		row.Notes = append(row.Notes, "events not synced (calendar sync not in this build)")
	}
	if exp.profile != "" {
		row.Profile = exp.profile
		row.PprofTop = pprofTop(ctx, exp.profile, b.o.PprofLines)
		row.CPUBreakdown = pprofBreakdown(ctx, exp.profile)
	}
	return row, nil
}

// storeState is what a system's store holds for the tenant.
type storeState struct {
	messages, events, cursors int
}

// checkStore compares a store with the simulator: every user, every
// message, every event (when the system syncs events), and the changed
// messages' new subjects.
func checkStore(ctx context.Context, path string, t *benchTenant, changes []change) (storeState, error) {
	var s storeState
	st, err := store.Open(ctx, store.Config{Driver: store.DriverSQLite, SQLitePath: path})
	if err != nil {
		return s, err
	}
	defer st.Close()
	users, err := st.Count(ctx, t.key, "", domain.KindUser)
	if err != nil {
		return s, err
	}
	if users != len(t.mailboxes) {
		return s, fmt.Errorf("%d users stored, the simulator has %d", users, len(t.mailboxes))
	}
	if s.messages, err = st.Count(ctx, t.key, "", domain.KindMessage); err != nil {
		return s, err
	}
	if s.messages != t.messages {
		return s, fmt.Errorf("%d messages stored, the simulator has %d", s.messages, t.messages)
	}
	if s.events, err = st.Count(ctx, t.key, "", domain.KindEvent); err != nil {
		return s, err
	}
	if s.events != 0 && s.events != t.events {
		return s, fmt.Errorf("%d events stored, the simulator has %d in the calendar window", s.events, t.events)
	}
	cursors, err := st.Cursors(ctx, t.key)
	if err != nil {
		return s, err
	}
	s.cursors = len(cursors)
	byMailbox := map[string][]change{}
	for _, c := range changes {
		byMailbox[c.mailbox] = append(byMailbox[c.mailbox], c)
	}
	for mb, cs := range byMailbox {
		msgs, err := st.Messages(ctx, store.MessageQuery{Tenant: t.key, Mailbox: mb})
		if err != nil {
			return s, err
		}
		subject := make(map[string]string, len(msgs))
		for _, m := range msgs {
			subject[m.ID] = m.Subject
		}
		for _, c := range cs {
			if got, ok := subject[c.id]; !ok || got != c.subject {
				return s, fmt.Errorf("mailbox %s message %s: subject %q stored, %q in the simulator", mb, c.id, got, c.subject)
			}
		}
	}
	return s, nil
}

// checkNaive checks the naive loop's table for the mailboxes it synced.
func checkNaive(ctx context.Context, path string, t *benchTenant, sampled int, changes []change) (storeState, error) {
	var s storeState
	db, err := openNaiveDB(path)
	if err != nil {
		return s, err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM messages").Scan(&s.messages); err != nil {
		return s, err
	}
	rows, err := db.QueryContext(ctx, "SELECT DISTINCT mailbox FROM messages")
	if err != nil {
		return s, err
	}
	synced := map[string]bool{}
	for rows.Next() {
		var mb string
		if err := rows.Scan(&mb); err != nil {
			rows.Close()
			return s, err
		}
		synced[strings.ToLower(mb)] = true
	}
	rows.Close()
	want := t.seed.MessagesPerMailbox * sampled
	if s.messages != want || len(synced) != sampled {
		return s, fmt.Errorf("%d messages in %d mailboxes stored, want %d in %d", s.messages, len(synced), want, sampled)
	}
	for _, c := range changes {
		if !synced[strings.ToLower(c.mailbox)] {
			continue
		}
		var got string
		if err := db.QueryRowContext(ctx, "SELECT subject FROM messages WHERE mailbox = ? AND id = ?", c.mailbox, c.id).Scan(&got); err != nil {
			return s, fmt.Errorf("mailbox %s message %s: %w", c.mailbox, c.id, err)
		}
		if got != c.subject {
			return s, fmt.Errorf("mailbox %s message %s: subject %q stored, %q in the simulator", c.mailbox, c.id, got, c.subject)
		}
	}
	return s, nil
}
