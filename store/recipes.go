package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The recipe engine's own state: its runs and their step outputs, the
// trigger-matching decisions it made, operators' on/off switches and the
// runs waiting for a reply. None of it holds mail content beyond what a run's
// Trigger snapshot or a step's output carries, which the store keeps as
// opaque bytes.

// RecipeRun is one run of a recipe on one item.
type RecipeRun struct {
	// RunID identifies the run (and is the key SaveRun deduplicates on).
	RunID  string
	Tenant string
	Recipe string
	// Mailbox, ItemID and ChangeKey name the item and the version of it the
	// run is about.
	Mailbox   string
	ItemID    string
	ChangeKey string
	// MessageKey identifies the run's message across the new IDs a move or
	// a copy gives it (recipe.MessageKey of its internetMessageId); "" for
	// a run about no message. FiredMessageRuns finds runs by it.
	MessageKey string
	// Trigger is a JSON snapshot of what fired the run, opaque to the
	// store; nil when empty.
	Trigger []byte
	// Status is where the run is: e.g. running, waiting, completed,
	// failed, held, skipped. The worker saves "started" and does not move
	// it (UpdateRun is for a caller that wants to): the run's workflow is
	// where its live status, step and reason are (search attribute
	// OutlookflowRunStatus, its state query; `starter recipes why|runs`).
	Status string
	// Step is the step the run is on or ended at.
	Step string
	// Reason says why it failed or was skipped; never mail content.
	Reason    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RecipeDecision is what trigger matching decided about one version of one
// item for one recipe, kept so an operator can ask why a recipe did or did
// not fire.
type RecipeDecision struct {
	Tenant    string
	Recipe    string
	ItemID    string
	ChangeKey string
	// RunID is the run it started, "" if it fired none.
	RunID   string
	Mailbox string
	Fired   bool
	// Reason is one line, never mail content.
	Reason string
	// Detail is a JSON record of the whole decision, opaque to the store;
	// nil when empty.
	Detail []byte
	At     time.Time
}

// FiredRun is a run saved for a message key (RecipeRun.MessageKey).
type FiredRun struct {
	Recipe string
	RunID  string
}

// ReplyWait is a run waiting for a reply in a conversation of a mailbox
// since a time.
type ReplyWait struct {
	RunID          string
	Tenant         string
	Mailbox        string
	ConversationID string
	Since          time.Time
}

// invalid is an ErrInvalidRecord error for what, naming what is missing.
func invalid(what, missing string) error {
	return fmt.Errorf("store: %s: %w: %s is required", what, ErrInvalidRecord, missing)
}

// orNow is t, or the store's clock when t is zero.
func (s *sqlStore) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t
}

// blob is b as a column value: NULL when empty, so both drivers store and
// return empty bytes the same way (nil).
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// orNil is b, or nil when empty.
func orNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (s *sqlStore) SaveRun(ctx context.Context, r RecipeRun) error {
	what := fmt.Sprintf("saving recipe run %q", r.RunID)
	switch {
	case r.RunID == "":
		return invalid(what, "RunID")
	case r.Tenant == "":
		return invalid(what, "Tenant")
	case r.Recipe == "":
		return invalid(what, "Recipe")
	}
	created := s.orNow(r.CreatedAt)
	updated := r.UpdatedAt
	if updated.IsZero() {
		updated = created
	}
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO recipe_runs (run_id, tenant, recipe, mailbox, item_id, change_key, message_key, trigger_json, status, step, reason, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (run_id) DO NOTHING`,
		r.RunID, r.Tenant, r.Recipe, r.Mailbox, r.ItemID, r.ChangeKey, r.MessageKey, blob(r.Trigger), r.Status, r.Step, r.Reason,
		s.t(created), s.t(updated))
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

// runCols are what scanRun reads.
const runCols = `run_id, tenant, recipe, mailbox, item_id, change_key, message_key, trigger_json, status, step, reason, created_at, updated_at`

func scanRun(row interface{ Scan(...any) error }) (RecipeRun, error) {
	var r RecipeRun
	err := row.Scan(&r.RunID, &r.Tenant, &r.Recipe, &r.Mailbox, &r.ItemID, &r.ChangeKey, &r.MessageKey, &r.Trigger,
		&r.Status, &r.Step, &r.Reason, timeScanner{&r.CreatedAt}, timeScanner{&r.UpdatedAt})
	r.Trigger = orNil(r.Trigger)
	return r, err
}

func (s *sqlStore) Run(ctx context.Context, runID string) (RecipeRun, bool, error) {
	r, err := scanRun(s.read.QueryRowContext(ctx, `SELECT `+runCols+` FROM recipe_runs WHERE run_id = $1`, runID))
	if err == sql.ErrNoRows {
		return RecipeRun{}, false, nil
	}
	if err != nil {
		return RecipeRun{}, false, fmt.Errorf("store: reading recipe run %q: %w", runID, err)
	}
	return r, true, nil
}

func (s *sqlStore) UpdateRun(ctx context.Context, runID, status, step, reason string) error {
	what := fmt.Sprintf("updating recipe run %q", runID)
	if runID == "" {
		return invalid(what, "the run ID")
	}
	res, err := s.write.ExecContext(ctx, `UPDATE recipe_runs SET status = $2, step = $3, reason = $4, updated_at = $5 WHERE run_id = $1`,
		runID, status, step, reason, s.t(s.now()))
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s: %w: no run has that ID; save it with SaveRun first", what, ErrNotFound)
	}
	return nil
}

func (s *sqlStore) Runs(ctx context.Context, tenant, recipe string, limit int) ([]RecipeRun, error) {
	what := fmt.Sprintf("listing recipe runs of tenant %q recipe %q", tenant, recipe)
	if err := requireTenant(what, tenant); err != nil {
		return nil, err
	}
	cond, args := where(tenant, [2]string{"recipe", recipe})
	q := `SELECT ` + runCols + ` FROM recipe_runs WHERE ` + cond + ` ORDER BY created_at DESC, run_id DESC`
	if limit > 0 {
		args = append(args, limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	var out []RecipeRun
	err := s.query(ctx, what, q, args, func(rows *sql.Rows) error {
		r, err := scanRun(rows)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func (s *sqlStore) FiredMessageRuns(ctx context.Context, tenant, mailbox string, keys []string) (map[string][]FiredRun, error) {
	what := fmt.Sprintf("reading the runs of %d message keys of tenant %q mailbox %q", len(keys), tenant, mailbox)
	if err := requireMailbox(what, tenant, mailbox); err != nil {
		return nil, err
	}
	keys = uniqueIDs(keys)
	out := make(map[string][]FiredRun, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	from, keyExpr := s.dialect.idList(3)
	arg, err := s.dialect.idListArg(keys)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	// The keys are one parameter joined against the index recipe_runs_message
	// (migration 00008), as in byIDs.
	q := fmt.Sprintf(`SELECT r.message_key, r.recipe, r.run_id FROM %s CROSS JOIN recipe_runs r
		WHERE r.tenant = $1 AND r.mailbox = $2 AND r.message_key = %s
		ORDER BY r.message_key, r.created_at, r.run_id`, from, keyExpr)
	err = s.query(ctx, what, q, []any{tenant, mailbox, arg}, func(rows *sql.Rows) error {
		var key string
		var fr FiredRun
		if err := rows.Scan(&key, &fr.Recipe, &fr.RunID); err != nil {
			return err
		}
		out[key] = append(out[key], fr)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *sqlStore) SaveStepOutput(ctx context.Context, runID, stepID string, output []byte) error {
	what := fmt.Sprintf("saving the output of step %q of recipe run %q", stepID, runID)
	switch {
	case runID == "":
		return invalid(what, "the run ID")
	case stepID == "":
		return invalid(what, "the step ID")
	}
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO recipe_step_outputs (run_id, step_id, output, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (run_id, step_id) DO UPDATE SET output = excluded.output, updated_at = excluded.updated_at`,
		runID, stepID, blob(output), s.t(s.now()))
	if err != nil {
		return fmt.Errorf("store: %s (the run must be saved first): %w", what, err)
	}
	return nil
}

func (s *sqlStore) StepOutputs(ctx context.Context, runID string) (map[string][]byte, error) {
	out := make(map[string][]byte)
	err := s.query(ctx, fmt.Sprintf("reading the step outputs of recipe run %q", runID),
		`SELECT step_id, output FROM recipe_step_outputs WHERE run_id = $1`, []any{runID},
		func(rows *sql.Rows) error {
			var step string
			var output []byte
			if err := rows.Scan(&step, &output); err != nil {
				return err
			}
			out[step] = orNil(output)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decisionInsert upserts decisions on their key.
var decisionInsert = newInsertSpec("recipe_decisions", nil,
	[]string{"tenant", "recipe", "item_id", "change_key", "run_id", "mailbox", "fired", "reason", "detail", "decided_at"},
	`ON CONFLICT (tenant, recipe, item_id, change_key) DO UPDATE SET
		run_id = excluded.run_id, mailbox = excluded.mailbox, fired = excluded.fired, reason = excluded.reason,
		detail = excluded.detail, decided_at = excluded.decided_at`)

func (s *sqlStore) RecordDecisions(ctx context.Context, decisions []RecipeDecision) error {
	what := fmt.Sprintf("recording %d recipe decisions", len(decisions))
	type key struct{ tenant, recipe, item, change string }
	// One statement may not upsert a key twice (PostgreSQL refuses it), so
	// the batch keeps each key's last decision, in the order of first
	// occurrence.
	index := make(map[key]int, len(decisions))
	rows := make([][]any, 0, len(decisions))
	for i, d := range decisions {
		switch {
		case d.Tenant == "":
			return invalid(fmt.Sprintf("%s: decision %d", what, i+1), "Tenant")
		case d.Recipe == "":
			return invalid(fmt.Sprintf("%s: decision %d", what, i+1), "Recipe")
		case d.ItemID == "":
			return invalid(fmt.Sprintf("%s: decision %d", what, i+1), "ItemID")
		}
		r := []any{d.Tenant, d.Recipe, d.ItemID, d.ChangeKey, d.RunID, d.Mailbox, d.Fired, d.Reason, blob(d.Detail), s.t(s.orNow(d.At))}
		k := key{d.Tenant, d.Recipe, d.ItemID, d.ChangeKey}
		if j, ok := index[k]; ok {
			rows[j] = r
			continue
		}
		index[k] = len(rows)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := s.prepareInserts(ctx, decisionInsert, len(rows)); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return s.inTx(ctx, what, func(tx *sql.Tx) error {
		return s.insertRows(ctx, tx, decisionInsert, nil, rows)
	})
}

func (s *sqlStore) Decisions(ctx context.Context, tenant, recipe, itemID string) ([]RecipeDecision, error) {
	what := fmt.Sprintf("listing recipe decisions of tenant %q recipe %q item %q", tenant, recipe, itemID)
	switch {
	case tenant == "":
		return nil, invalid(what, "the tenant")
	case itemID == "":
		return nil, invalid(what, "the item ID")
	}
	cond, args := where(tenant, [2]string{"item_id", itemID}, [2]string{"recipe", recipe})
	var out []RecipeDecision
	err := s.query(ctx, what, `
		SELECT tenant, recipe, item_id, change_key, run_id, mailbox, fired, reason, detail, decided_at
		FROM recipe_decisions WHERE `+cond+` ORDER BY decided_at DESC, recipe, change_key DESC`, args,
		func(rows *sql.Rows) error {
			var d RecipeDecision
			if err := rows.Scan(&d.Tenant, &d.Recipe, &d.ItemID, &d.ChangeKey, &d.RunID, &d.Mailbox, &d.Fired,
				&d.Reason, &d.Detail, timeScanner{&d.At}); err != nil {
				return err
			}
			d.Detail = orNil(d.Detail)
			out = append(out, d)
			return nil
		})
	return out, err
}

func (s *sqlStore) SetRecipeEnabled(ctx context.Context, tenant, recipe string, enabled bool) error {
	what := fmt.Sprintf("switching recipe %q of tenant %q to enabled=%v", recipe, tenant, enabled)
	switch {
	case tenant == "":
		return invalid(what, "the tenant")
	case recipe == "":
		return invalid(what, "the recipe")
	}
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO recipe_switches (tenant, recipe, enabled, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant, recipe) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`,
		tenant, recipe, enabled, s.t(s.now()))
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func (s *sqlStore) RecipeSwitches(ctx context.Context, tenant string) (map[string]bool, error) {
	what := fmt.Sprintf("reading the recipe switches of tenant %q", tenant)
	if err := requireTenant(what, tenant); err != nil {
		return nil, err
	}
	out := make(map[string]bool)
	err := s.query(ctx, what, `SELECT recipe, enabled FROM recipe_switches WHERE tenant = $1`, []any{tenant},
		func(rows *sql.Rows) error {
			var recipe string
			var enabled bool
			if err := rows.Scan(&recipe, &enabled); err != nil {
				return err
			}
			out[recipe] = enabled
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *sqlStore) AddReplyWait(ctx context.Context, w ReplyWait) error {
	what := fmt.Sprintf("adding the reply wait of recipe run %q", w.RunID)
	switch {
	case w.RunID == "":
		return invalid(what, "RunID")
	case w.Tenant == "":
		return invalid(what, "Tenant")
	case w.Mailbox == "":
		return invalid(what, "Mailbox")
	case w.ConversationID == "":
		return invalid(what, "ConversationID")
	}
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO reply_waits (run_id, tenant, mailbox, conversation_id, since) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (run_id) DO UPDATE SET
			tenant = excluded.tenant, mailbox = excluded.mailbox, conversation_id = excluded.conversation_id, since = excluded.since`,
		w.RunID, w.Tenant, w.Mailbox, w.ConversationID, s.t(s.orNow(w.Since)))
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func (s *sqlStore) DeleteReplyWait(ctx context.Context, runID string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM reply_waits WHERE run_id = $1`, runID); err != nil {
		return fmt.Errorf("store: deleting the reply wait of recipe run %q: %w", runID, err)
	}
	return nil
}

func (s *sqlStore) ReplyWaits(ctx context.Context, tenant, mailbox string, conversationIDs []string) ([]ReplyWait, error) {
	what := fmt.Sprintf("listing reply waits on %d conversations of tenant %q mailbox %q", len(conversationIDs), tenant, mailbox)
	if err := requireTenant(what, tenant); err != nil {
		return nil, err
	}
	ids := uniqueIDs(conversationIDs)
	if len(ids) == 0 {
		return nil, nil
	}
	from, idExpr := s.dialect.idList(2)
	arg, err := s.dialect.idListArg(ids)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	q := fmt.Sprintf(`SELECT w.run_id, w.tenant, w.mailbox, w.conversation_id, w.since
		FROM %s CROSS JOIN reply_waits w WHERE w.tenant = $1 AND w.conversation_id = %s`, from, idExpr)
	args := []any{tenant, arg}
	if mailbox != "" {
		q += ` AND w.mailbox = $3`
		args = append(args, mailbox)
	}
	q += ` ORDER BY w.since, w.run_id`
	var out []ReplyWait
	err = s.query(ctx, what, q, args, func(rows *sql.Rows) error {
		var w ReplyWait
		if err := rows.Scan(&w.RunID, &w.Tenant, &w.Mailbox, &w.ConversationID, timeScanner{&w.Since}); err != nil {
			return err
		}
		out = append(out, w)
		return nil
	})
	return out, err
}
