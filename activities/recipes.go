package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/summarize"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
)

// RecipeBook holds the valid recipes the worker loaded, by tenant. It is
// safe for concurrent use, so a reload can swap the set under running
// activities.
type RecipeBook struct {
	mu       sync.RWMutex
	byTenant map[string][]*recipe.Recipe
}

// NewRecipeBook indexes recipes by tenant (in name order).
func NewRecipeBook(rs []*recipe.Recipe) *RecipeBook {
	b := &RecipeBook{}
	b.Replace(rs)
	return b
}

// Replace swaps the whole set.
func (b *RecipeBook) Replace(rs []*recipe.Recipe) {
	m := map[string][]*recipe.Recipe{}
	for _, r := range rs {
		m[r.Tenant] = append(m[r.Tenant], r)
	}
	for _, list := range m {
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}
	b.mu.Lock()
	b.byTenant = m
	b.mu.Unlock()
}

// Tenant lists a tenant's recipes.
func (b *RecipeBook) Tenant(tenant string) []*recipe.Recipe {
	if b == nil {
		return nil
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.byTenant[tenant]
}

// Get finds a tenant's recipe by name.
func (b *RecipeBook) Get(tenant, name string) *recipe.Recipe {
	for _, r := range b.Tenant(tenant) {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// RunStarter starts recipe runs and signals waiting ones: the Temporal
// client in production (see internal/app), so activities here stay free of
// workflow packages.
type RunStarter interface {
	// StartRun starts the run described by start unless a workflow with its
	// ID ever ran (the ID is the idempotency key); started is false then.
	StartRun(ctx context.Context, start RunStart) (started bool, err error)
	// SignalReply tells a waiting run that a reply arrived; a run that has
	// ended is not an error (found is false).
	SignalReply(ctx context.Context, runID, messageID string, at time.Time) (found bool, err error)
	// Skipped reports whether the run with this ID ended Skipped (its
	// recheck found nothing to do); false when it never ran or has not.
	Skipped(ctx context.Context, runID string) (bool, error)
}

// RunStart is what starting one run needs: its keys and the recipe's plan,
// never the trigger's data (the store holds that under RunID).
type RunStart struct {
	Tenant, Recipe, RunID, Mailbox, Trigger, ChangeKey string
	// Def is the recipe, from which the starter builds the run's plan.
	Def *recipe.Recipe
	// Delay starts the run later (an upcoming-event reminder); Recheck
	// makes it match its trigger again first.
	Delay   time.Duration
	Recheck bool
}

// Recipes holds the recipe engine's activities and the trigger dispatcher
// the sync calls after it saves a mailbox's pages.
type Recipes struct {
	Store   store.Store
	Book    *RecipeBook
	Runs    RunStarter
	Graph   GraphCaller
	Tenants TenantDirectory
	Vault   CredentialVault
	Gate    TenantGate
	// Users are a delegated tenant's signed-in users: a step acts as the
	// mailbox's user and waits while they are not connected.
	Users DelegatedUsers
	Log   *zap.Logger
	// Summarizers are the configured endpoints summarize steps may name;
	// the built-in summarizer needs no entry.
	Summarizers map[string]summarize.Summarizer
	// HoldRetry is how often a step held by a paused or disconnected
	// tenant checks again; 0 means 30 seconds.
	HoldRetry time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	dirMu sync.Mutex
	dirs  map[string]*tenantDirCache
}

func (a *Recipes) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Wants reports which of a tenant's changes the outbox must keep: mail
// changes when an enabled recipe has a mail trigger, event changes when one
// has an event trigger. Nothing is recorded for a tenant without recipes,
// so their sync pays nothing.
func (a *Recipes) Wants(tenant string) (mail, events bool) {
	if a == nil {
		return false, false
	}
	for _, r := range a.Book.Tenant(tenant) {
		mail = mail || r.Trigger.Kind.IsMail()
		events = events || r.Trigger.Kind.IsEvent()
	}
	return mail, events
}

// DispatchResult counts what one dispatch did.
type DispatchResult struct {
	Changes int // outbox changes matched
	Started int // runs started
	Replies int // waiting runs signalled
}

// dispatchChunk is how many outbox changes one round reads.
const dispatchChunk = 500

// Dispatch matches a mailbox's pending changes (the outbox its saved pages
// filled) against the tenant's recipes, records each decision for
// `starter recipes why`, starts the runs that fire and signals runs waiting
// for a reply in a conversation that got a message. A new message that
// is one a recipe already fired for, moved or copied to another folder
// under a new ID, does not fire it again (firedRuns). Changes are acked only
// after their runs started, so a crash repeats the dispatch — and the run
// IDs make the repeat start nothing twice.
func (a *Recipes) Dispatch(ctx context.Context, tenant, mailbox string) (DispatchResult, error) {
	var res DispatchResult
	for {
		pending, err := a.Store.PendingChanges(ctx, tenant, mailbox, dispatchChunk)
		if err != nil {
			return res, retryable("reading the trigger outbox", err)
		}
		if len(pending) == 0 {
			return res, nil
		}
		r, err := a.dispatch(ctx, tenant, mailbox, pending)
		res.Changes += r.Changes
		res.Started += r.Started
		res.Replies += r.Replies
		if err != nil {
			return res, err
		}
		seqs := make([]int64, len(pending))
		for i, p := range pending {
			seqs[i] = p.Seq
		}
		if err := a.Store.AckChanges(ctx, tenant, seqs); err != nil {
			return res, retryable("acking the trigger outbox", err)
		}
		if len(pending) < dispatchChunk {
			return res, nil
		}
	}
}

func (a *Recipes) dispatch(ctx context.Context, tenant, mailbox string, pending []store.PendingChange) (DispatchResult, error) {
	res := DispatchResult{Changes: len(pending)}
	recipes := a.Book.Tenant(tenant)
	switches, err := a.Store.RecipeSwitches(ctx, tenant)
	if err != nil {
		return res, retryable("reading recipe switches", err)
	}
	var msgIDs, eventIDs []string
	for _, p := range pending {
		switch p.Change.Kind {
		case domain.KindMessage:
			if p.Change.Type != domain.ChangeDeleted {
				msgIDs = append(msgIDs, p.Change.ItemID)
			}
		case domain.KindEvent:
			eventIDs = append(eventIDs, p.Change.ItemID)
		}
	}
	msgs, err := a.Store.MessagesByID(ctx, tenant, mailbox, msgIDs)
	if err != nil {
		return res, retryable("reading changed messages", err)
	}
	events, err := a.Store.EventsByID(ctx, tenant, mailbox, eventIDs)
	if err != nil {
		return res, retryable("reading changed events", err)
	}
	dir, err := a.directory(ctx, tenant)
	if err != nil {
		return res, err
	}
	owner := dir.users[mailbox]
	fired, err := a.firedMessages(ctx, tenant, mailbox, pending, msgs)
	if err != nil {
		return res, err
	}
	mentions, err := a.mentions(ctx, tenant, mailbox, owner, dir.groups[mailbox], recipes, switches, pending, msgs) // recipe_mentions.go
	if err != nil {
		return res, err
	}
	folders := map[string]*domain.MailFolder{}
	var decisions []store.RecipeDecision
	var starts []RunStart
	var replyConversations []string
	replyMsgs := map[string][]domain.Message{}
	for _, p := range pending {
		in := recipe.Input{Change: p.Change, Mailbox: mailbox, MailboxAddress: owner.UserPrincipalName, MailboxMail: owner.Mail,
			MailboxGroups: dir.groups[mailbox], PreviousFlag: p.PrevFlag, Now: p.At}
		if in.Change.Mailbox == "" {
			in.Change.Mailbox = mailbox
		}
		switch p.Change.Kind {
		case domain.KindMessage:
			if m, ok := msgs[p.Change.ItemID]; ok {
				m := m
				m.Body = nil
				in.Message = &m
				in.Folder, err = a.folder(ctx, folders, tenant, mailbox, m.FolderID)
				if err != nil {
					return res, err
				}
				if p.Change.Type == domain.ChangeCreated && m.ConversationID != "" {
					if _, seen := replyMsgs[m.ConversationID]; !seen {
						replyConversations = append(replyConversations, m.ConversationID)
					}
					replyMsgs[m.ConversationID] = append(replyMsgs[m.ConversationID], m)
				}
			}
			in.ChangeKey = fmt.Sprint(p.Seq)
			mentions.apply(&in, p)
		case domain.KindEvent:
			if ev, ok := events[p.Change.ItemID]; ok {
				ev := ev
				in.Event = &ev
			} else if p.DeletedEvent != nil {
				// Gone from the store with the change that deleted it:
				// the outbox kept it as last stored, for the filters and
				// the run's templates.
				in.Event = p.DeletedEvent
			}
		}
		for _, r := range recipes {
			enabled := r.Enabled
			if on, ok := switches[r.Name]; ok {
				enabled = on
			}
			d, start, ok := mentions.decide(a, r, enabled, in, p)
			if !ok {
				continue
			}
			fired.check(&d, r.Name, p, in)
			if start.Recheck && d.Fire && start.Delay < reArmWindow {
				if d.RunID, err = a.reArm(ctx, d.RunID); err != nil {
					return res, err
				}
			}
			dec := store.RecipeDecision{Tenant: tenant, Recipe: r.Name, ItemID: p.Change.ItemID, ChangeKey: recipe.ChangeKey(r, in),
				RunID: d.RunID, Mailbox: mailbox, Fired: d.Fire, Reason: d.Reason(), At: p.At}
			dec.Detail, _ = json.Marshal(d)
			decisions = append(decisions, dec)
			if !d.Fire {
				continue
			}
			if err := a.saveRun(ctx, tenant, r, d.RunID, mailbox, p.Change.ItemID, dec.ChangeKey, in); err != nil {
				return res, err
			}
			start.Tenant, start.Recipe, start.RunID, start.Mailbox = tenant, r.Name, d.RunID, mailbox
			start.Trigger, start.ChangeKey, start.Def = string(r.Trigger.Kind), dec.ChangeKey, r
			starts = append(starts, start)
		}
	}
	n, err := a.startRuns(ctx, starts)
	res.Started += n
	if err != nil {
		return res, err
	}
	if err := a.Store.RecordDecisions(ctx, decisions); err != nil {
		return res, retryable("recording recipe decisions", err)
	}
	res.Replies, err = a.signalReplies(ctx, tenant, mailbox, replyConversations, replyMsgs)
	return res, err
}

// firedRuns are the runs already fired for the messages of a chunk's new
// messages, by message key (recipe.MessageKey): those the store holds, and
// those the chunk fires as it goes.
type firedRuns map[string][]store.FiredRun

// firedMessages reads the runs fired for the messages of the chunk's
// created messages, by their keys, in one query.
func (a *Recipes) firedMessages(ctx context.Context, tenant, mailbox string, pending []store.PendingChange, msgs map[string]domain.Message) (firedRuns, error) {
	var keys []string
	for _, p := range pending {
		if p.Initial || p.Change.Kind != domain.KindMessage || p.Change.Type != domain.ChangeCreated {
			continue
		}
		if m, ok := msgs[p.Change.ItemID]; ok {
			if k := recipe.MessageKey(m.InternetMessageID); k != "" {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return firedRuns{}, nil
	}
	runs, err := a.Store.FiredMessageRuns(ctx, tenant, mailbox, keys)
	if err != nil {
		return nil, retryable("reading the runs of new messages", err)
	}
	return firedRuns(runs), nil
}

// check refuses (recipe.Decision.AlreadyFired) a decision to fire recipe
// on a created message when the recipe already fired for the same message
// under another ID: Graph gives a message moved or copied to another
// folder a new ID, and lists it there as created. A run with the decision's
// own ID is no earlier run but this one (a dispatch repeated after a
// crash), which starts nothing twice anyway. A decision that fires is
// remembered, so a later change of the chunk sees it. Updated messages are
// matched as they are: flagging a message again is a new run.
func (f firedRuns) check(d *recipe.Decision, recipeName string, p store.PendingChange, in recipe.Input) {
	if !d.Fire || p.Change.Kind != domain.KindMessage || p.Change.Type != domain.ChangeCreated || in.Message == nil {
		return
	}
	key := recipe.MessageKey(in.Message.InternetMessageID)
	if key == "" {
		return
	}
	for _, fr := range f[key] {
		if fr.Recipe == recipeName && fr.RunID != d.RunID {
			d.AlreadyFired(fr.RunID)
			return
		}
	}
	f[key] = append(f[key], store.FiredRun{Recipe: recipeName, RunID: d.RunID})
}

// reArmWindow: only a reminder due within it (or overdue) can have a run
// that already went off and was skipped — a run waits for its due time —
// so only those ask the server (one describe each); the rest, a first
// sync's whole calendar among them, ask nothing. The minute covers a
// worker clock behind the server's.
const reArmWindow = time.Minute

// maxReArms bounds how often one reminder is armed again after being
// skipped: an event moved away and back more often than this keeps the
// last run it had.
const maxReArms = 20

// reArm picks the ID of a reminder's run: its run ID, or, when the run
// under that ID went off and was skipped (the event was elsewhere then, or
// the recipe off) and the event is at that start again, the next ID
// (recipe.ReArmedRunID). A run that is still waiting or has fired keeps
// its ID, so a repeated dispatch starts nothing twice.
func (a *Recipes) reArm(ctx context.Context, runID string) (string, error) {
	id := runID
	for n := 1; n <= maxReArms; n++ {
		id = recipe.ReArmedRunID(runID, n)
		skipped, err := a.Runs.Skipped(ctx, id)
		if err != nil {
			return "", retryable("reading a reminder's earlier run", err)
		}
		if !skipped {
			return id, nil
		}
	}
	return id, nil
}

// runStartParallelism is how many runs one dispatch starts at once: each
// start is a round trip to Temporal, and a page of new mail may fire
// hundreds of runs.
const runStartParallelism = 8

// startRuns starts the runs (their trigger data is saved already), a few
// at a time. A failure fails the dispatch; its retry starts only what did
// not start (the run IDs are the idempotency keys).
func (a *Recipes) startRuns(ctx context.Context, starts []RunStart) (int, error) {
	var (
		mu       sync.Mutex
		started  int
		firstErr error
	)
	inParallel(starts, runStartParallelism, func(st RunStart) {
		ok, err := a.Runs.StartRun(ctx, st)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if firstErr == nil {
				firstErr = retryable("starting a recipe run", err)
			}
			return
		}
		if ok {
			started++
			a.Log.Info("recipe run started", zap.String("tenant", st.Tenant), zap.String("recipe", st.Recipe), zap.String("runId", st.RunID))
		}
	})
	return started, firstErr
}

// inParallel calls fn for each item, at most n at a time, and returns
// when all calls have.
func inParallel[T any](items []T, n int, fn func(T)) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, max(n, 1))
	for _, it := range items {
		slots <- struct{}{}
		wg.Add(1)
		go func(it T) {
			defer wg.Done()
			defer func() { <-slots }()
			fn(it)
		}(it)
	}
	wg.Wait()
}

// decide matches one recipe against one change. ok is false when the
// recipe has nothing to say about it (another kind of trigger, another
// mailbox, a change of the first sync): such non-decisions are not
// recorded, so the log holds what a recipe actually considered.
func (a *Recipes) decide(r *recipe.Recipe, enabled bool, in recipe.Input, p store.PendingChange) (recipe.Decision, RunStart, bool) {
	var start RunStart
	k := r.Trigger.Kind
	if k == recipe.TriggerUpcomingEvent {
		if p.Change.Kind != domain.KindEvent || p.Change.Type == domain.ChangeDeleted || in.Event == nil {
			return recipe.Decision{}, start, false
		}
		in.Signal = recipe.TriggerUpcomingEvent
		at, ok := recipe.ReminderAt(r, in.Event)
		now := a.now()
		if !ok || !in.Event.Start.After(now) {
			return recipe.Decision{}, start, false
		}
		start.Delay = max(at.Sub(now), 0)
		start.Recheck = true
	} else if p.Initial {
		// The first sync of a mailbox lists what was already there: none
		// of it is new mail or a calendar change.
		return recipe.Decision{}, start, false
	}
	if r.Enabled != enabled {
		// An operator's switch overrides the file.
		switched := *r
		switched.Enabled = enabled
		r = &switched
	}
	d := recipe.Match(r, in)
	if !d.Trigger.Passed || !d.Mailbox.Passed {
		return d, start, false
	}
	return d, start, true
}

// saveRun keeps the trigger's data under the run's ID (first writer wins),
// where the run's steps read it: the workflow carries only keys. A run
// about a message keeps its message key, which the dispatch reads back so a
// moved or copied message does not fire the recipe again (firedRuns).
func (a *Recipes) saveRun(ctx context.Context, tenant string, r *recipe.Recipe, runID, mailbox, itemID, changeKey string, in recipe.Input) error {
	snap, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("snapshot of run %s: %w", runID, err)
	}
	var msgKey string
	if in.Message != nil {
		msgKey = recipe.MessageKey(in.Message.InternetMessageID)
	}
	now := a.now()
	if err := a.Store.SaveRun(ctx, store.RecipeRun{RunID: runID, Tenant: tenant, Recipe: r.Name, Mailbox: mailbox, ItemID: itemID,
		ChangeKey: changeKey, MessageKey: msgKey, Trigger: snap, Status: "started", CreatedAt: now, UpdatedAt: now}); err != nil {
		return retryable("saving a recipe run", err)
	}
	return nil
}

// signalReplies tells runs waiting on a conversation that a message
// arrived in it after their wait began.
func (a *Recipes) signalReplies(ctx context.Context, tenant, mailbox string, conversations []string, msgs map[string][]domain.Message) (int, error) {
	if len(conversations) == 0 {
		return 0, nil
	}
	waits, err := a.Store.ReplyWaits(ctx, tenant, mailbox, conversations)
	if err != nil {
		return 0, retryable("reading reply waits", err)
	}
	n := 0
	for _, w := range waits {
		own, err := a.runMessages(ctx, w.RunID)
		if err != nil {
			return n, err
		}
		for _, m := range msgs[w.ConversationID] {
			if !isReply(m, w.Since, own) {
				continue
			}
			found, err := a.Runs.SignalReply(ctx, w.RunID, m.ID, messageTime(m))
			if err != nil {
				return n, retryable("signalling a waiting run", err)
			}
			if !found {
				if err := a.Store.DeleteReplyWait(ctx, w.RunID); err != nil {
					return n, retryable("dropping a stale reply wait", err)
				}
			} else {
				n++
			}
			break
		}
	}
	return n, nil
}

// isReply: a message in the conversation counts as the reply a wait is
// for when the run did not send it itself and it arrived (or was sent) no
// earlier than the second the wait began — Graph's times have whole
// seconds.
func isReply(m domain.Message, since time.Time, own map[string]bool) bool {
	return !own[m.ID] && !messageTime(m).Before(since.Truncate(time.Second))
}

// runMessages are the IDs of the run's triggering message and of the
// messages its steps sent or created (their messageId outputs), which
// never count as a reply to it.
func (a *Recipes) runMessages(ctx context.Context, runID string) (map[string]bool, error) {
	outs, err := a.Store.StepOutputs(ctx, runID)
	if err != nil {
		return nil, retryable("reading step outputs", err)
	}
	own := map[string]bool{}
	run, found, err := a.Store.Run(ctx, runID)
	if err != nil {
		return nil, retryable("reading the run", err)
	}
	if found {
		own[run.ItemID] = true
	}
	for _, data := range outs {
		var m recipe.MessageOutput
		if json.Unmarshal(data, &m) == nil && m.MessageID != "" {
			own[m.MessageID] = true
		}
	}
	return own, nil
}

func messageTime(m domain.Message) time.Time {
	if !m.ReceivedAt.IsZero() {
		return m.ReceivedAt
	}
	return m.SentAt
}

func (a *Recipes) folder(ctx context.Context, cache map[string]*domain.MailFolder, tenant, mailbox, id string) (*domain.MailFolder, error) {
	if f, ok := cache[id]; ok {
		return f, nil
	}
	f, found, err := a.Store.Folder(ctx, tenant, mailbox, id)
	if err != nil {
		return nil, retryable("reading a mail folder", err)
	}
	var out *domain.MailFolder
	if found {
		out = &f
	}
	cache[id] = out
	return out, nil
}

// tenantDirCache is a tenant's users and group memberships as matching
// needs them (a mailbox's UPN, the groups it is in), read from the store at
// most once a minute rather than once per mailbox.
type tenantDirCache struct {
	at     time.Time
	users  map[string]domain.User
	groups map[string][]string // member ID → group IDs and mail addresses
}

const directoryCacheTTL = time.Minute

func (a *Recipes) directory(ctx context.Context, tenant string) (*tenantDirCache, error) {
	a.dirMu.Lock()
	defer a.dirMu.Unlock()
	if c, ok := a.dirs[tenant]; ok && a.now().Sub(c.at) < directoryCacheTTL {
		return c, nil
	}
	users, err := a.Store.Users(ctx, tenant)
	if err != nil {
		return nil, retryable("reading users", err)
	}
	c := &tenantDirCache{at: a.now(), users: make(map[string]domain.User, len(users)), groups: map[string][]string{}}
	for _, u := range users {
		c.users[u.ID] = u
	}
	if a.usesGroups(tenant) {
		groups, err := a.Store.Groups(ctx, tenant)
		if err != nil {
			return nil, retryable("reading groups", err)
		}
		mail := map[string]string{}
		for _, g := range groups {
			mail[g.ID] = g.Mail
		}
		members, err := a.Store.GroupMembers(ctx, tenant)
		if err != nil {
			return nil, retryable("reading group members", err)
		}
		for _, m := range members {
			c.groups[m.MemberID] = append(c.groups[m.MemberID], m.GroupID)
			if addr := mail[m.GroupID]; addr != "" {
				c.groups[m.MemberID] = append(c.groups[m.MemberID], strings.ToLower(addr))
			}
		}
	}
	if a.dirs == nil {
		a.dirs = map[string]*tenantDirCache{}
	}
	a.dirs[tenant] = c
	return c, nil
}

func (a *Recipes) usesGroups(tenant string) bool {
	for _, r := range a.Book.Tenant(tenant) {
		if r.Mailboxes.Scope == recipe.ScopeGroup {
			return true
		}
	}
	return false
}

// IsAlreadyStarted reports the error Temporal gives for a workflow ID that
// already ran under a reject-duplicate policy.
func IsAlreadyStarted(err error) bool {
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &already)
}

// IsNotFound reports Temporal's answer for a workflow that is not running.
func IsNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
