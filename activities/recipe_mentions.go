package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
)

// The mailMentionsMe trigger's signal. Graph says whether a message
// @-mentions the mailbox's owner only on its beta endpoint: the message's
// mentionsPreview.isMentioned, filterable as
// $filter=mentionsPreview/isMentioned eq true (beta
// resources/mentionspreview.md, api/user-list-messages.md). The delta the
// sync reads is v1.0 and has no such property, so when a dispatch chunk
// holds new messages of a mailbox that an enabled mailMentionsMe recipe
// watches, the dispatcher asks once per chunk:
//
//	GET /beta/users/{mailbox}/messages?$filter=mentionsPreview/isMentioned eq true
//	    and receivedDateTime ge {oldest new message - 1 minute}&$select=id,mentionsPreview&$top=1000
//
// (following @odata.nextLink), and each new message of the chunk gets
// Input.Mentioned: true when Graph listed it, false otherwise. The cost is
// one request per chunk (up to dispatchChunk changes), not per message.
//
// Failures. The outbox is acked only after the dispatch, so a failed
// question costs a retry, never a message: throttling and outages fail
// the dispatch retryably (after Retry-After when Graph gave one), and so
// does anything else unexpected (401, 404, a malformed answer). A refusal
// retrying cannot fix — 403 (the app lacks Mail.Read(Basic)(.All), or an
// application access policy hides the mailbox from beta), 400 (beta
// changed or refuses the query) or a worker that cannot derive the beta
// endpoint — would block the mailbox's whole outbox, every other recipe
// included, forever. So it is recorded instead: each new message the
// mailMentionsMe recipes would have judged gets a not-fired decision
// whose reason names Graph's answer (`starter recipes why`), a warning is
// logged (status and code, no mail content), and the dispatch goes on.
// Those messages are not judged again.

// GraphBetaCaller is a GraphCaller that also reaches Graph's beta endpoint
// through the same pipeline (token, middleware, allowed hosts, mailbox
// limits); path is from the version on, as for Call. graphclient.Client
// is one.
type GraphBetaCaller interface {
	CallBeta(ctx context.Context, creds Credentials, mailbox, method, path string, body, out any) error
}

// mentionSignal is what Graph said about one dispatch chunk's new
// messages.
type mentionSignal struct {
	// mentioned holds every new message Graph was asked about: true when
	// it mentions the mailbox's owner. nil when Graph was not asked.
	mentioned map[string]bool
	// refused is why the signal is missing when Graph refused the
	// question (a decision's reason).
	refused string
}

// mentionPageSize is the $top of the mention query (Graph's maximum for
// message lists); mentionMaxPages bounds how far it follows nextLinks.
const (
	mentionPageSize = 1000
	mentionMaxPages = 100
)

// apply sets in.Mentioned for a new message Graph was asked about.
func (s mentionSignal) apply(in *recipe.Input, p store.PendingChange) {
	v, asked := s.mentioned[p.Change.ItemID]
	if !asked || p.Change.Kind != domain.KindMessage || p.Change.Type != domain.ChangeCreated {
		return
	}
	in.Mentioned = &v
}

// decide is Recipes.decide, except that when Graph refused the mention
// question, a mailMentionsMe recipe that would have judged the message
// records a not-fired decision saying so (rather than no decision).
func (s mentionSignal) decide(a *Recipes, r *recipe.Recipe, enabled bool, in recipe.Input, p store.PendingChange) (recipe.Decision, RunStart, bool) {
	d, start, ok := a.decide(r, enabled, in, p)
	if ok || s.refused == "" || r.Trigger.Kind != recipe.TriggerMailMentionsMe || in.Mentioned != nil {
		return d, start, ok
	}
	probe := in
	yes := true
	probe.Mentioned = &yes
	if _, _, would := a.decide(r, enabled, probe, p); !would {
		return d, start, false
	}
	d.Trigger.Reason = s.refused
	return d, start, true
}

// mentions asks Graph (beta) which of the chunk's new messages mention
// the mailbox's owner, when an enabled mailMentionsMe recipe watches the
// mailbox. See the top of this file.
func (a *Recipes) mentions(ctx context.Context, tenant, mailbox string, owner domain.User, groups []string,
	recipes []*recipe.Recipe, switches map[string]bool, pending []store.PendingChange, msgs map[string]domain.Message) (mentionSignal, error) {
	var sig mentionSignal
	if !watchesMentions(mailbox, owner, groups, recipes, switches) {
		return sig, nil
	}
	var ids []string
	var oldest time.Time
	unbounded := false
	for _, p := range pending {
		if p.Initial || p.Change.Kind != domain.KindMessage || p.Change.Type != domain.ChangeCreated {
			continue
		}
		m, ok := msgs[p.Change.ItemID]
		if !ok || m.IsDraft {
			continue
		}
		ids = append(ids, m.ID)
		switch t := messageTime(m); {
		case t.IsZero():
			unbounded = true
		case oldest.IsZero() || t.Before(oldest):
			oldest = t
		}
	}
	if len(ids) == 0 {
		return sig, nil
	}
	listed, err := a.askMentions(ctx, tenant, mailbox, oldest, unbounded)
	var (
		ge     *GraphError
		appErr *temporal.ApplicationError
	)
	switch {
	case err == nil:
	case errors.As(err, &ge) && (ge.Kind == KindForbidden || ge.Kind == KindBadRequest || ge.Kind == KindMisconfigured):
		a.Log.Warn("Graph refused the mention query; mailMentionsMe recipes record this mailbox's new messages as not fired",
			zap.String("tenant", tenant), zap.String("mailbox", mailbox), zap.Int("messages", len(ids)),
			zap.String("kind", string(ge.Kind)), zap.Int("status", ge.Status), zap.String("code", ge.Code))
		sig.refused = fmt.Sprintf("the mention signal is unavailable: Graph beta refused the mentions query (%s); the message is not judged again", ge.Error())
		return sig, nil
	case errors.As(err, &ge) && ge.Kind.Retryable():
		// Retryable, after Retry-After when Graph gave one.
		return sig, temporal.NewApplicationErrorWithOptions("asking Graph (beta) which new messages mention the mailbox owner: "+ge.Error(),
			string(ge.Kind), temporal.ApplicationErrorOptions{NextRetryDelay: ge.RetryAfter})
	case errors.As(err, &appErr):
		// The tenant is held (retryable, with its delay) or not configured.
		return sig, err
	default:
		// Anything else (a 401, 404, a malformed answer) fails the
		// dispatch retryably too: nothing is acked yet.
		return sig, retryable("asking Graph (beta) which new messages mention the mailbox owner", err)
	}
	sig.mentioned = make(map[string]bool, len(ids))
	for _, id := range ids {
		sig.mentioned[id] = listed[id]
	}
	return sig, nil
}

// watchesMentions reports whether an enabled mailMentionsMe recipe (an
// operator's switch overriding the file) watches the mailbox.
func watchesMentions(mailbox string, owner domain.User, groups []string, recipes []*recipe.Recipe, switches map[string]bool) bool {
	probe := recipe.Input{Mailbox: mailbox, MailboxAddress: owner.UserPrincipalName, MailboxMail: owner.Mail, MailboxGroups: groups}
	for _, r := range recipes {
		enabled := r.Enabled
		if on, ok := switches[r.Name]; ok {
			enabled = on
		}
		if enabled && r.Trigger.Kind == recipe.TriggerMailMentionsMe && recipe.Match(r, probe).Mailbox.Passed {
			return true
		}
	}
	return false
}

// mentionPage is the part of a beta message page the question reads.
type mentionPage struct {
	Value []struct {
		ID              string `json:"id"`
		MentionsPreview *struct {
			IsMentioned bool `json:"isMentioned"`
		} `json:"mentionsPreview"`
	} `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// askMentions lists the IDs of the mailbox's messages received since
// oldest (less a minute; all of them when unbounded) that mention its
// owner.
func (a *Recipes) askMentions(ctx context.Context, tenant, mailbox string, oldest time.Time, unbounded bool) (map[string]bool, error) {
	beta, ok := a.Graph.(GraphBetaCaller)
	if !ok {
		return nil, &GraphError{Kind: KindMisconfigured, Message: "the worker's Graph client cannot reach Graph's beta endpoint, where the mention signal is"}
	}
	creds, err := a.hold(ctx, tenant, mailbox)
	if err != nil {
		return nil, err
	}
	filter := "mentionsPreview/isMentioned eq true"
	if !unbounded {
		filter += " and receivedDateTime ge " + oldest.Add(-time.Minute).UTC().Format(time.RFC3339)
	}
	path := userPath(mailbox, "messages") + "?$filter=" + strings.ReplaceAll(url.QueryEscape(filter), "+", "%20") +
		"&$select=id,mentionsPreview&$top=" + fmt.Sprint(mentionPageSize)
	listed := map[string]bool{}
	for pages := 0; path != ""; pages++ {
		if pages == mentionMaxPages {
			return nil, fmt.Errorf("the mention query of mailbox %s did not end within %d pages", mailbox, mentionMaxPages)
		}
		var page mentionPage
		if err := beta.CallBeta(ctx, creds, mailbox, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		for _, m := range page.Value {
			// The filter asked for these; trust what each item says.
			if m.ID != "" && m.MentionsPreview != nil && m.MentionsPreview.IsMentioned {
				listed[m.ID] = true
			}
		}
		if path, err = betaLinkPath(page.NextLink); err != nil {
			return nil, err
		}
	}
	return listed, nil
}

// betaLinkPath turns an @odata.nextLink (an absolute URL on the beta
// endpoint) into a path from the version on, as CallBeta takes it: the
// request then goes to the configured host, never to one a link names.
// "" for no link.
func betaLinkPath(link string) (string, error) {
	if link == "" {
		return "", nil
	}
	u, err := url.Parse(link)
	p := ""
	if err == nil {
		p = u.EscapedPath()
	}
	i := strings.Index(p, "/beta/")
	if err != nil || i < 0 {
		return "", &GraphError{Kind: KindMalformed, Message: "the mention query's @odata.nextLink is not a beta URL"}
	}
	p = p[i+len("/beta"):]
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, nil
}
