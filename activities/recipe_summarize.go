package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/summarize"
	"github.com/outlookflow/outlookflow/recipe"
)

// ErrSummarizerUnavailable (retryable): the summarizer endpoint throttled,
// failed or did not answer; the step tries again later.
const ErrSummarizerUnavailable = "SummarizerUnavailable"

// Bounds of a summarize step.
const (
	defaultSummarySince = 24 * time.Hour
	defaultSummaryAhead = 24 * time.Hour
	defaultSummaryItems = 20
	// summaryReadLimit bounds the messages one digest reads from the
	// store, newest first: more than a very busy mailbox gets in a day.
	summaryReadLimit = 5000
	// textsPerThread is how many of a thread's latest messages give their
	// text to a digest with includeBodies.
	textsPerThread = 5
)

// summarize writes a digest of the mailbox's threads or events as the
// store holds them (the sync keeps it current), with the step's
// summarizer. It only reads, so a retry simply writes the digest again.
// Message texts are read (from the store, else from Graph) only with
// includeBodies; the digest goes to the step's outputs in the store, never
// into a payload or a log.
func (x *executor) summarize(ctx context.Context) (any, string, error) {
	sm, err := x.summarizer()
	if err != nil {
		return nil, "", err
	}
	owner, err := x.summaryMailbox(ctx)
	if err != nil {
		return nil, "", err
	}
	now := x.rc.in.Now
	if now.IsZero() {
		now = x.a.now()
	}
	limit := defaultSummaryItems
	if p := x.step().Param("maxItems"); p != nil {
		// Validation refuses other values; a recipe loaded by an older
		// version could still carry one.
		if p.Int < 1 || p.Int > recipe.MaxSummaryItems {
			return nil, "", stepFailed("step %s: maxItems %d is out of range; give 1 to %d", x.step().ID, p.Int, recipe.MaxSummaryItems)
		}
		limit = p.Int
	}
	loc, err := x.mailboxZone(ctx, owner.ID)
	if err != nil {
		return nil, "", err
	}
	of := cmp.Or(x.str("of"), string(summarize.Threads))
	var req summarize.Request
	if of == string(summarize.Events) {
		req, err = x.eventsToSummarize(ctx, owner, now, limit, loc)
	} else {
		req, err = x.threadsToSummarize(ctx, owner, now, limit, loc)
	}
	if err != nil {
		return nil, "", err
	}
	req.Location = loc
	digest, err := sm.Summarize(ctx, req)
	if err != nil {
		return nil, "", x.summarizerFailed(err)
	}
	n := len(req.Threads) + len(req.Events)
	return recipe.SummaryOutput{Summary: digest, Count: n}, fmt.Sprintf("summarized %d %s", n, of), nil
}

// summarizer is the step's summarizer: builtin unless it names a
// configured endpoint.
func (x *executor) summarizer() (summarize.Summarizer, error) {
	name, err := x.text("summarizer")
	if err != nil {
		return nil, err
	}
	name = cmp.Or(strings.TrimSpace(name), summarize.BuiltinName)
	if name == summarize.BuiltinName {
		return summarize.Builtin{}, nil
	}
	if sm, ok := x.a.Summarizers[name]; ok {
		return sm, nil
	}
	return nil, stepFailed("step %s: summarizer %q is not configured in this worker; add it under recipes.summarizers in the worker's configuration, or use builtin", x.step().ID, name)
}

// summarizerFailed maps a summarizer's failure to the step's: throttling
// and outages are retried (after the endpoint's Retry-After), the rest
// need a fix and fail the step.
func (x *executor) summarizerFailed(err error) error {
	var se *summarize.Error
	if !errors.As(err, &se) {
		return err
	}
	msg := fmt.Sprintf("step %s: %v", x.step().ID, se)
	if !se.Retryable {
		return stepFailed("%s", msg)
	}
	return temporal.NewApplicationErrorWithOptions(msg, ErrSummarizerUnavailable, temporal.ApplicationErrorOptions{NextRetryDelay: se.RetryAfter})
}

// summaryMailbox is the user whose mailbox the digest reads: the step's
// mailbox (UPN, address or object ID), else the run's.
func (x *executor) summaryMailbox(ctx context.Context) (domain.User, error) {
	want, err := x.text("mailbox")
	if err != nil {
		return domain.User{}, err
	}
	want = cmp.Or(strings.TrimSpace(want), x.mailbox)
	if want == "" {
		return domain.User{}, stepFailed("step %s: no mailbox to summarize: the run has none; set mailbox on the step", x.step().ID)
	}
	dir, err := x.a.directory(ctx, x.rc.run.Tenant)
	if err != nil {
		return domain.User{}, err
	}
	if u, ok := dir.users[want]; ok {
		return u, nil
	}
	for _, u := range dir.users {
		if strings.EqualFold(u.UserPrincipalName, want) || (u.Mail != "" && strings.EqualFold(u.Mail, want)) {
			return u, nil
		}
	}
	return domain.User{}, stepFailed("step %s: mailbox %q is not a user the sync has read in tenant %q; summarize reads the synced store, so name a synced mailbox by UPN or object ID", x.step().ID, want, x.rc.run.Tenant)
}

// mailboxZone is the zone a digest writes times in: the mailbox's own
// (from its synced settings) when it is an IANA name, else UTC, which
// the digest names.
func (x *executor) mailboxZone(ctx context.Context, mailbox string) (*time.Location, error) {
	settings, found, err := x.a.Store.MailboxSettings(ctx, x.rc.run.Tenant, mailbox)
	if err != nil {
		return nil, retryable("reading the mailbox's settings", err)
	}
	if found && settings.TimeZone != "" {
		if loc, err := time.LoadLocation(settings.TimeZone); err == nil {
			return loc, nil
		}
	}
	return time.UTC, nil
}

// replyPrefix is the "RE: FW: " a thread's later subjects carry.
var replyPrefix = regexp.MustCompile(`(?i)^((re|fw|fwd|aw|wg|tr|sv|vs)\s*:\s*)+`)

type threadMessages struct {
	id   string
	msgs []domain.Message // oldest first
}

// threadsToSummarize groups the mailbox's messages since `since` into
// threads (conversations), keeps those with a message in the step's
// folder and, with unansweredOnly, those whose last message is not the
// owner's, newest activity first.
func (x *executor) threadsToSummarize(ctx context.Context, owner domain.User, now time.Time, limit int, loc *time.Location) (summarize.Request, error) {
	tenant := x.rc.run.Tenant
	since := defaultSummarySince
	if p := x.step().Param("since"); p != nil {
		since = p.Dur
	}
	from := now.Add(-since)
	folderID := ""
	if x.step().Has("folder") {
		name, err := x.text("folder")
		if err != nil {
			return summarize.Request{}, err
		}
		if folderID, err = x.storedFolderID(ctx, owner.ID, name); err != nil {
			return summarize.Request{}, err
		}
	}
	msgs, err := x.a.Store.MessagesSince(ctx, tenant, owner.ID, from, summaryReadLimit)
	if err != nil {
		return summarize.Request{}, retryable("reading the mailbox's messages", err)
	}
	byConversation := map[string]*threadMessages{}
	var threads []*threadMessages
	for i := len(msgs) - 1; i >= 0; i-- { // oldest first
		m := msgs[i]
		if m.IsDraft {
			continue
		}
		key := cmp.Or(m.ConversationID, "message:"+m.ID)
		th, ok := byConversation[key]
		if !ok {
			th = &threadMessages{id: key}
			byConversation[key] = th
			threads = append(threads, th)
		}
		th.msgs = append(th.msgs, m)
	}
	own := func(m domain.Message) bool {
		a := m.From.Address
		return a != "" && (strings.EqualFold(a, owner.Mail) || strings.EqualFold(a, owner.UserPrincipalName))
	}
	unansweredOnly := x.boolParam("unansweredOnly")
	var kept []*threadMessages
	for _, th := range threads {
		last := th.msgs[len(th.msgs)-1]
		if unansweredOnly && own(last) {
			continue
		}
		if folderID != "" && !slices.ContainsFunc(th.msgs, func(m domain.Message) bool { return m.FolderID == folderID }) {
			continue
		}
		kept = append(kept, th)
	}
	slices.SortStableFunc(kept, func(a, b *threadMessages) int {
		if c := messageTime(b.msgs[len(b.msgs)-1]).Compare(messageTime(a.msgs[len(a.msgs)-1])); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	if len(kept) > limit {
		kept = kept[:limit]
	}
	withTexts := x.boolParam("includeBodies")
	req := summarize.Request{Kind: summarize.Threads, Scope: threadScope(unansweredOnly, folderID != "", from, loc)}
	for _, th := range kept {
		last := th.msgs[len(th.msgs)-1]
		t := summarize.Thread{
			Subject:    strings.TrimSpace(replyPrefix.ReplaceAllString(last.Subject, "")),
			Messages:   len(th.msgs),
			Last:       messageTime(last),
			LastFrom:   personName(last.From),
			Unanswered: !own(last),
		}
		for _, m := range th.msgs {
			if name := personName(m.From); name != "" && !slices.Contains(t.Participants, name) {
				t.Participants = append(t.Participants, name)
			}
		}
		if withTexts {
			if t.Texts, err = x.threadTexts(ctx, owner.ID, th.msgs); err != nil {
				return summarize.Request{}, err
			}
		}
		req.Threads = append(req.Threads, t)
	}
	return req, nil
}

// boolParam is a true/false parameter's value (false when unset).
func (x *executor) boolParam(name string) bool {
	p := x.step().Param(name)
	return p != nil && p.Bool
}

func threadScope(unansweredOnly, inFolder bool, from time.Time, loc *time.Location) string {
	s := "active since " + from.In(loc).Format("Mon 2 Jan 15:04")
	if unansweredOnly {
		s = "awaiting an answer, " + s
	}
	if inFolder {
		s += " in the folder asked for"
	}
	return s
}

func personName(a domain.EmailAddress) string {
	return cmp.Or(strings.TrimSpace(a.Name), a.Address)
}

// storedFolderID finds a folder of the mailbox in the store by ID,
// well-known name or display name.
func (x *executor) storedFolderID(ctx context.Context, mailbox, name string) (string, error) {
	folders, err := x.a.Store.Folders(ctx, x.rc.run.Tenant, mailbox)
	if err != nil {
		return "", retryable("reading the mailbox's folders", err)
	}
	for _, match := range []func(f domain.MailFolder) bool{
		func(f domain.MailFolder) bool { return f.ID == name },
		func(f domain.MailFolder) bool {
			return f.WellKnownName != "" && strings.EqualFold(f.WellKnownName, name)
		},
		func(f domain.MailFolder) bool { return strings.EqualFold(f.DisplayName, name) },
	} {
		for _, f := range folders {
			if match(f) {
				return f.ID, nil
			}
		}
	}
	return "", stepFailed("step %s: folder %q is not among the mailbox's synced folders; use a well-known name (inbox, sentitems…), a folder ID or a folder's display name", x.step().ID, name)
}

// threadTexts are the plain texts of a thread's latest messages, oldest
// first: from the store when the sync keeps bodies, else read from Graph
// (which needs Mail.Read, as the step's permissions say). A message gone
// meanwhile is left out.
func (x *executor) threadTexts(ctx context.Context, mailbox string, msgs []domain.Message) ([]string, error) {
	if len(msgs) > textsPerThread {
		msgs = msgs[len(msgs)-textsPerThread:]
	}
	var texts []string
	for _, m := range msgs {
		body := m.Body
		if body == nil {
			var got struct {
				Body *struct {
					ContentType string `json:"contentType"`
					Content     string `json:"content"`
				} `json:"body"`
			}
			err := x.call(ctx, mailbox, http.MethodGet, userPath(mailbox, "messages", m.ID)+"?$select=body", nil, &got)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if got.Body == nil {
				continue
			}
			body = &domain.MessageBody{ContentType: got.Body.ContentType, Content: got.Body.Content}
		}
		if text := summarize.MessageText(body.ContentType, body.Content); text != "" {
			texts = append(texts, text)
		}
	}
	return texts, nil
}

// eventsToSummarize lists the mailbox's events that overlap the next
// `within`, earliest first; cancelled ones and series masters (their
// occurrences are listed) are left out.
func (x *executor) eventsToSummarize(ctx context.Context, owner domain.User, now time.Time, limit int, loc *time.Location) (summarize.Request, error) {
	within := defaultSummaryAhead
	if p := x.step().Param("within"); p != nil {
		within = p.Dur
	}
	from, to := now, now.Add(within)
	events, err := x.a.Store.Events(ctx, x.rc.run.Tenant, owner.ID)
	if err != nil {
		return summarize.Request{}, retryable("reading the mailbox's events", err)
	}
	var kept []domain.Event
	for _, e := range events {
		if e.IsCancelled || e.Type == domain.EventSeriesMaster || !e.Start.Before(to) || !e.End.After(from) {
			continue
		}
		kept = append(kept, e)
	}
	slices.SortStableFunc(kept, func(a, b domain.Event) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(kept) > limit {
		kept = kept[:limit]
	}
	req := summarize.Request{Kind: summarize.Events,
		Scope: fmt.Sprintf("from %s to %s", from.In(loc).Format("Mon 2 Jan 15:04"), to.In(loc).Format("Mon 2 Jan 15:04"))}
	for _, e := range kept {
		req.Events = append(req.Events, summarize.Event{Subject: e.Subject, Start: e.Start, End: e.End, IsAllDay: e.IsAllDay,
			Organizer: personName(e.Organizer), Location: e.Location, Attendees: len(e.Attendees), IsOnline: e.IsOnlineMeeting})
	}
	return req, nil
}
