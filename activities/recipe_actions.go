package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/recipe"
)

// keyProperty is the MAPI named property outlookflow tags the items it
// creates with (drafts, contacts): a string property in outlookflow's own
// property set, holding the step's idempotency key. Looking an item up by
// it before creating one makes creation idempotent.
const keyProperty = "String {5e6f1c2a-8d3b-4f61-9c1e-6f75746c6b66} Name outlookflowKey"

// executor runs one action step.
type executor struct {
	a       *Recipes
	rc      *runContext
	creds   Credentials
	key     string
	mailbox string
}

func (x *executor) step() *recipe.Step { return x.rc.step }

// text renders a text parameter; a failed template fails the step.
func (x *executor) text(name string) (string, error) {
	v, err := x.step().Text(name, x.rc.env)
	if err != nil {
		return "", stepFailed("step %s: %s: %v", x.step().ID, name, err)
	}
	return v, nil
}

func (x *executor) list(name string) ([]string, error) {
	v, err := x.step().List(name, x.rc.env)
	if err != nil {
		return nil, stepFailed("step %s: %s: %v", x.step().ID, name, err)
	}
	return v, nil
}

func (x *executor) str(name string) string {
	if p := x.step().Param(name); p != nil {
		return p.Str
	}
	return ""
}

// target is the mailbox an action acts in: the step's mailbox parameter,
// else the run's.
func (x *executor) target() (string, error) {
	mb, err := x.text("mailbox")
	if err != nil {
		return "", err
	}
	if mb == "" {
		mb = x.mailbox
	}
	if mb == "" {
		return "", stepFailed("step %s: no mailbox to act in: the run has none; set mailbox (or from) on the step", x.step().ID)
	}
	return mb, nil
}

// messageID is the message a mail action acts on: messageId, else the
// triggering message.
func (x *executor) messageID() (string, error) {
	id, err := x.text("messageId")
	if err != nil {
		return "", err
	}
	if id == "" && x.rc.in.Message != nil {
		id = x.rc.in.Message.ID
	}
	if id == "" {
		return "", stepFailed("step %s: no message to act on: the trigger is not a message; set messageId", x.step().ID)
	}
	return id, nil
}

// item is the mailbox and the item (message or event, by which) an action
// acts on.
func (x *executor) item(which func() (string, error)) (mailbox, id string, err error) {
	if mailbox, err = x.target(); err != nil {
		return "", "", err
	}
	id, err = which()
	return mailbox, id, err
}

func (x *executor) eventID() (string, error) {
	id, err := x.text("eventId")
	if err != nil {
		return "", err
	}
	if id == "" && x.rc.in.Event != nil {
		id = x.rc.in.Event.ID
	}
	if id == "" {
		return "", stepFailed("step %s: no event to act on: the trigger is not an event; set eventId", x.step().ID)
	}
	return id, nil
}

func (x *executor) call(ctx context.Context, mailbox, method, path string, body, out any) error {
	return x.a.Graph.Call(ctx, x.creds, mailbox, method, path, body, out)
}

func userPath(mailbox string, parts ...string) string {
	p := "/users/" + url.PathEscape(mailbox)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// run dispatches on the step's action; out is the step's outputs (nil for
// none), outcome a content-free word on what happened.
func (x *executor) run(ctx context.Context) (out any, outcome string, err error) {
	switch a := x.step().Action; a {
	case "send", "createDraft":
		return x.send(ctx, a == "createDraft")
	case "reply", "replyAll", "forward":
		return x.respond(ctx, a)
	case "move", "copy":
		return x.moveOrCopy(ctx, a == "copy")
	case "markRead", "markUnread", "flag", "unflag", "setCategories":
		return x.patchMessage(ctx, a)
	case "delete":
		return x.deleteMessage(ctx)
	case "createFolder":
		return x.createFolder(ctx)
	case "createEvent":
		return x.createEvent(ctx)
	case "updateEvent":
		return x.updateEvent(ctx)
	case "cancelEvent":
		return x.cancelEvent(ctx)
	case "respondToEvent":
		return x.respondToEvent(ctx)
	case "findMeetingTimes":
		return x.findMeetingTimes(ctx)
	case "createOnlineMeeting":
		return x.createOnlineMeeting(ctx)
	case "createContact", "updateContact":
		return x.contact(ctx, a == "updateContact")
	case "setAutomaticReplies":
		return x.setAutomaticReplies(ctx)
	case "postChannelMessage":
		return x.postChannelMessage(ctx)
	case "summarize":
		return x.summarize(ctx)
	case "graphRequest":
		return x.graphRequest(ctx)
	default:
		return nil, "", stepFailed("step %s: action %s is not available in this version of outlookflow", x.step().ID, a)
	}
}

// --- mail ------------------------------------------------------------------

type graphRecipient struct {
	EmailAddress struct {
		Address string `json:"address"`
		Name    string `json:"name,omitempty"`
	} `json:"emailAddress"`
}

func recipients(addrs []string) []graphRecipient {
	out := make([]graphRecipient, 0, len(addrs))
	for _, a := range addrs {
		var r graphRecipient
		r.EmailAddress.Address = a
		out = append(out, r)
	}
	return out
}

type extendedProperty struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

func (x *executor) tag() []extendedProperty {
	return []extendedProperty{{ID: keyProperty, Value: x.key}}
}

type taggedMessage struct {
	ID             string `json:"id"`
	IsDraft        bool   `json:"isDraft"`
	ConversationID string `json:"conversationId"`
	ParentFolderID string `json:"parentFolderId"`
}

// findTagged looks the step's key up across the mailbox's folders.
func (x *executor) findTagged(ctx context.Context, mailbox string) ([]taggedMessage, error) {
	q := url.Values{
		"$filter": {fmt.Sprintf("singleValueExtendedProperties/Any(ep: ep/id eq '%s' and ep/value eq '%s')", keyProperty, x.key)},
		"$select": {"id,isDraft,conversationId,parentFolderId"},
	}
	var page struct {
		Value []taggedMessage `json:"value"`
	}
	if err := x.call(ctx, mailbox, http.MethodGet, userPath(mailbox, "messages")+"?"+encodeQuery(q), nil, &page); err != nil {
		return nil, err
	}
	return page.Value, nil
}

// encodeQuery keeps $ and spaces readable the way Graph documents them.
func encodeQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "%24", "$")
}

// body renders the step's body as Graph's itemBody.
func (x *executor) body() (map[string]string, error) {
	content, err := x.text("body")
	if err != nil {
		return nil, err
	}
	ct := "text"
	if x.step().HTMLBody() {
		ct = "html"
	}
	return map[string]string{"contentType": ct, "content": content}, nil
}

// finishTagged turns what the key lookup found into an outcome: a sent
// message ends the step, a draft is sent (unless the step only drafts).
func (x *executor) finishTagged(ctx context.Context, mailbox string, found []taggedMessage, draftOnly bool) (any, string, bool, error) {
	for _, m := range found {
		if !m.IsDraft {
			return recipe.MessageOutput{MessageID: m.ID, ConversationID: m.ConversationID}, "already sent (found by its key)", true, nil
		}
	}
	if len(found) == 0 {
		return nil, "", false, nil
	}
	// Only drafts: the step's draft exists (one key, one draft).
	d := found[0]
	if draftOnly {
		return recipe.MessageOutput{MessageID: d.ID, ConversationID: d.ConversationID}, "draft already created (found by its key)", true, nil
	}
	out, err := x.sendDraft(ctx, mailbox, d)
	return out, "sent (its draft was already created)", true, err
}

// sendDraft sends a tagged draft and returns the sent copy's ID when Graph
// shows it already (sending is asynchronous; the draft's ID otherwise).
func (x *executor) sendDraft(ctx context.Context, mailbox string, d taggedMessage) (any, error) {
	if err := x.call(ctx, mailbox, http.MethodPost, userPath(mailbox, "messages", d.ID, "send"), nil, nil); err != nil {
		return nil, err
	}
	out := recipe.MessageOutput{MessageID: d.ID, ConversationID: d.ConversationID}
	if found, err := x.findTagged(ctx, mailbox); err == nil {
		for _, m := range found {
			if !m.IsDraft {
				out = recipe.MessageOutput{MessageID: m.ID, ConversationID: m.ConversationID}
			}
		}
	}
	return out, nil
}

// send creates a draft tagged with the step's key and sends it. Looking
// the key up first makes a retry — after a lost response, a crash between
// creating and sending — find the draft (and send it) or the sent message
// (and stop), so the mail goes out once.
func (x *executor) send(ctx context.Context, draftOnly bool) (any, string, error) {
	from, err := x.text("from")
	if err != nil {
		return nil, "", err
	}
	mailbox := from
	if mailbox == "" {
		if mailbox, err = x.target(); err != nil {
			return nil, "", err
		}
	}
	found, err := x.findTagged(ctx, mailbox)
	if err != nil {
		return nil, "", err
	}
	if out, outcome, done, err := x.finishTagged(ctx, mailbox, found, draftOnly); done || err != nil {
		return out, outcome, err
	}
	msg := map[string]any{"singleValueExtendedProperties": x.tag()}
	for _, f := range []struct{ param, field string }{{"to", "toRecipients"}, {"cc", "ccRecipients"}, {"bcc", "bccRecipients"}, {"replyTo", "replyTo"}} {
		addrs, err := x.list(f.param)
		if err != nil {
			return nil, "", err
		}
		if len(addrs) > 0 {
			msg[f.field] = recipients(addrs)
		}
	}
	if !draftOnly && msg["toRecipients"] == nil && msg["ccRecipients"] == nil && msg["bccRecipients"] == nil {
		return nil, "", stepFailed("step %s: no recipients: to rendered empty", x.step().ID)
	}
	subject, err := x.text("subject")
	if err != nil {
		return nil, "", err
	}
	msg["subject"] = subject
	if msg["body"], err = x.body(); err != nil {
		return nil, "", err
	}
	if imp := x.str("importance"); imp != "" {
		msg["importance"] = imp
	}
	var created taggedMessage
	if err := x.call(ctx, mailbox, http.MethodPost, userPath(mailbox, "messages"), msg, &created); err != nil {
		return nil, "", err
	}
	if draftOnly {
		return recipe.MessageOutput{MessageID: created.ID, ConversationID: created.ConversationID}, "draft created", nil
	}
	out, err := x.sendDraft(ctx, mailbox, created)
	return out, "sent", err
}

// respond replies, replies to all or forwards through a draft made by
// createReply / createReplyAll / createForward, tagged with the key in the
// same request, then sent: as idempotent as send.
func (x *executor) respond(ctx context.Context, action string) (any, string, error) {
	mailbox, id, err := x.item(x.messageID)
	if err != nil {
		return nil, "", err
	}
	found, err := x.findTagged(ctx, mailbox)
	if err != nil {
		return nil, "", err
	}
	if out, outcome, done, err := x.finishTagged(ctx, mailbox, found, false); done || err != nil {
		return out, outcome, err
	}
	msg := map[string]any{"singleValueExtendedProperties": x.tag()}
	req := map[string]any{"message": msg}
	text, err := x.text("body")
	if err != nil {
		return nil, "", err
	}
	if x.step().HTMLBody() {
		msg["body"] = map[string]string{"contentType": "html", "content": text}
	} else if text != "" {
		req["comment"] = text
	}
	if action == "forward" {
		to, err := x.list("to")
		if err != nil {
			return nil, "", err
		}
		if len(to) == 0 {
			return nil, "", stepFailed("step %s: no recipients: to rendered empty", x.step().ID)
		}
		msg["toRecipients"] = recipients(to)
		cc, err := x.list("cc")
		if err != nil {
			return nil, "", err
		}
		if len(cc) > 0 {
			msg["ccRecipients"] = recipients(cc)
		}
	}
	fn := map[string]string{"reply": "createReply", "replyAll": "createReplyAll", "forward": "createForward"}[action]
	var draft taggedMessage
	if err := x.call(ctx, mailbox, http.MethodPost, userPath(mailbox, "messages", id, fn), req, &draft); err != nil {
		return nil, "", err
	}
	out, err := x.sendDraft(ctx, mailbox, draft)
	return out, "sent", err
}

type messageState struct {
	ID                string   `json:"id"`
	ParentFolderID    string   `json:"parentFolderId"`
	InternetMessageID string   `json:"internetMessageId"`
	ConversationID    string   `json:"conversationId"`
	IsRead            bool     `json:"isRead"`
	Categories        []string `json:"categories"`
	Flag              struct {
		FlagStatus string `json:"flagStatus"`
	} `json:"flag"`
}

func (x *executor) getMessage(ctx context.Context, mailbox, id string) (messageState, error) {
	var m messageState
	err := x.call(ctx, mailbox, http.MethodGet, userPath(mailbox, "messages", id)+"?$select=id,parentFolderId,internetMessageId,conversationId,isRead,categories,flag", nil, &m)
	return m, err
}

func isNotFound(err error) bool {
	var ge *GraphError
	return errors.As(err, &ge) && ge.Kind == KindNotFound
}

// folderID resolves a folder parameter (a well-known name, an ID, or a
// top-level folder's display name) to the folder's ID.
func (x *executor) folderID(ctx context.Context, mailbox, folder string) (string, error) {
	var f struct {
		ID string `json:"id"`
	}
	err := x.call(ctx, mailbox, http.MethodGet, userPath(mailbox, "mailFolders", folder)+"?$select=id", nil, &f)
	if err == nil {
		return f.ID, nil
	}
	var ge *GraphError
	if !errors.As(err, &ge) || (ge.Kind != KindNotFound && ge.Kind != KindBadRequest) {
		return "", err
	}
	id, found, err := x.childFolder(ctx, mailbox, "", folder)
	if err != nil {
		return "", err
	}
	if !found {
		return "", stepFailed("step %s: folder %q not found in the mailbox: use a well-known name (inbox, archive…), a folder ID or a top-level folder's display name", x.step().ID, folder)
	}
	return id, nil
}

// childFolder finds a folder by display name under parent ("" = the top).
func (x *executor) childFolder(ctx context.Context, mailbox, parent, name string) (string, bool, error) {
	path := userPath(mailbox, "mailFolders")
	if parent != "" {
		path = userPath(mailbox, "mailFolders", parent, "childFolders")
	}
	q := url.Values{"$filter": {fmt.Sprintf("displayName eq '%s'", strings.ReplaceAll(name, "'", "''"))}, "$select": {"id,displayName"}}
	var page struct {
		Value []struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
		} `json:"value"`
	}
	if err := x.call(ctx, mailbox, http.MethodGet, path+"?"+encodeQuery(q), nil, &page); err != nil {
		return "", false, err
	}
	for _, f := range page.Value {
		if strings.EqualFold(f.DisplayName, name) {
			return f.ID, true, nil
		}
	}
	return "", false, nil
}

// inFolder finds copies of a message (by Internet message ID) in a folder.
func (x *executor) inFolder(ctx context.Context, mailbox, folderID, internetID string) (string, bool, error) {
	if internetID == "" {
		return "", false, nil
	}
	q := url.Values{"$filter": {fmt.Sprintf("internetMessageId eq '%s'", strings.ReplaceAll(internetID, "'", "''"))}, "$select": {"id"}}
	var page struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if err := x.call(ctx, mailbox, http.MethodGet, userPath(mailbox, "mailFolders", folderID, "messages")+"?"+encodeQuery(q), nil, &page); err != nil {
		return "", false, err
	}
	if len(page.Value) == 0 {
		return "", false, nil
	}
	return page.Value[0].ID, true, nil
}

// moveOrCopy checks state first: a message already in the destination is
// not moved again; after a lost response the moved message (which has a
// new ID) is found there by its Internet message ID; a copy already in the
// destination is not made twice.
func (x *executor) moveOrCopy(ctx context.Context, copy bool) (any, string, error) {
	mailbox, id, err := x.item(x.messageID)
	if err != nil {
		return nil, "", err
	}
	folder, err := x.text("folder")
	if err != nil {
		return nil, "", err
	}
	dest, err := x.folderID(ctx, mailbox, folder)
	if err != nil {
		return nil, "", err
	}
	internetID := ""
	if x.rc.in.Message != nil && x.rc.in.Message.ID == id {
		internetID = x.rc.in.Message.InternetMessageID
	}
	m, err := x.getMessage(ctx, mailbox, id)
	switch {
	case isNotFound(err) && !copy:
		if got, ok, ferr := x.inFolder(ctx, mailbox, dest, internetID); ferr != nil || ok {
			return recipe.MessageOutput{MessageID: got}, "already moved (found in the destination)", ferr
		}
		return nil, "", err
	case err != nil:
		return nil, "", err
	}
	if m.InternetMessageID != "" {
		internetID = m.InternetMessageID
	}
	if !copy && m.ParentFolderID == dest {
		return recipe.MessageOutput{MessageID: m.ID, ConversationID: m.ConversationID}, "already in the folder", nil
	}
	if copy {
		if got, ok, err := x.inFolder(ctx, mailbox, dest, internetID); err != nil || ok {
			return recipe.MessageOutput{MessageID: got, ConversationID: m.ConversationID}, "already copied (found in the destination)", err
		}
	}
	verb, done := "move", "moved"
	if copy {
		verb, done = "copy", "copied"
	}
	var moved taggedMessage
	if err := x.call(ctx, mailbox, http.MethodPost, userPath(mailbox, "messages", id, verb), map[string]string{"destinationId": dest}, &moved); err != nil {
		return nil, "", err
	}
	return recipe.MessageOutput{MessageID: moved.ID, ConversationID: moved.ConversationID}, done, nil
}

// patchMessage sets read state, flag or categories — after reading the
// current state, so a retry changes nothing twice (and a category added
// once is not added again).
func (x *executor) patchMessage(ctx context.Context, action string) (any, string, error) {
	mailbox, id, err := x.item(x.messageID)
	if err != nil {
		return nil, "", err
	}
	m, err := x.getMessage(ctx, mailbox, id)
	if err != nil {
		return nil, "", err
	}
	patch := map[string]any{}
	switch action {
	case "markRead", "markUnread":
		if want := action == "markRead"; m.IsRead != want {
			patch["isRead"] = want
		}
	case "flag":
		if m.Flag.FlagStatus != string(domain.FlagFlagged) {
			flag := map[string]any{"flagStatus": "flagged"}
			if p := x.step().Param("dueIn"); p != nil {
				now := x.rc.in.Now.UTC()
				flag["startDateTime"] = graphDateTime(now)
				flag["dueDateTime"] = graphDateTime(now.Add(p.Dur))
			}
			patch["flag"] = flag
		}
	case "unflag":
		if m.Flag.FlagStatus == string(domain.FlagFlagged) {
			patch["flag"] = map[string]any{"flagStatus": "notFlagged"}
		}
	case "setCategories":
		var want []string
		p := x.step().Param("categories")
		switch x.str("mode") {
		case "remove":
			for _, c := range m.Categories {
				if !containsFold(p.Strs, c) {
					want = append(want, c)
				}
			}
		case "replace":
			want = append(want, p.Strs...)
		default: // add
			want = append(want, m.Categories...)
			for _, c := range p.Strs {
				if !containsFold(want, c) {
					want = append(want, c)
				}
			}
		}
		if !slices.Equal(want, m.Categories) {
			if want == nil {
				want = []string{}
			}
			patch["categories"] = want
		}
	}
	if len(patch) == 0 {
		return nil, "already so", nil
	}
	if err := x.call(ctx, mailbox, http.MethodPatch, userPath(mailbox, "messages", id), patch, nil); err != nil {
		return nil, "", err
	}
	return nil, "done", nil
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(e string) bool { return strings.EqualFold(e, s) })
}

type graphDT struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

func graphDateTime(t time.Time) graphDT {
	return graphDT{DateTime: t.UTC().Format("2006-01-02T15:04:05.0000000"), TimeZone: "UTC"}
}

// deleteMessage deletes; a message already gone is success.
func (x *executor) deleteMessage(ctx context.Context) (any, string, error) {
	mailbox, id, err := x.item(x.messageID)
	if err != nil {
		return nil, "", err
	}
	err = x.call(ctx, mailbox, http.MethodDelete, userPath(mailbox, "messages", id), nil, nil)
	if isNotFound(err) {
		return nil, "already gone", nil
	}
	if err != nil {
		return nil, "", err
	}
	return nil, "deleted", nil
}

// createFolder finds a folder of that name first; a 409 (created by a
// retry's predecessor or by someone else meanwhile) means it exists.
func (x *executor) createFolder(ctx context.Context) (any, string, error) {
	mailbox, err := x.target()
	if err != nil {
		return nil, "", err
	}
	name, err := x.text("name")
	if err != nil {
		return nil, "", err
	}
	parent, err := x.text("parent")
	if err != nil {
		return nil, "", err
	}
	if parent != "" {
		if parent, err = x.folderID(ctx, mailbox, parent); err != nil {
			return nil, "", err
		}
	}
	if id, ok, err := x.childFolder(ctx, mailbox, parent, name); err != nil || ok {
		return recipe.FolderOutput{FolderID: id}, "already exists", err
	}
	path := userPath(mailbox, "mailFolders")
	if parent != "" {
		path = userPath(mailbox, "mailFolders", parent, "childFolders")
	}
	var f struct {
		ID string `json:"id"`
	}
	err = x.call(ctx, mailbox, http.MethodPost, path, map[string]any{"displayName": name}, &f)
	var ge *GraphError
	if errors.As(err, &ge) && ge.Status == http.StatusConflict {
		id, ok, ferr := x.childFolder(ctx, mailbox, parent, name)
		if ferr == nil && ok {
			return recipe.FolderOutput{FolderID: id}, "already exists", nil
		}
	}
	if err != nil {
		return nil, "", err
	}
	return recipe.FolderOutput{FolderID: f.ID}, "created", nil
}

// --- calendar --------------------------------------------------------------

type graphEvent struct {
	ID             string `json:"id"`
	IsCancelled    bool   `json:"isCancelled"`
	IsOrganizer    bool   `json:"isOrganizer"`
	ResponseStatus struct {
		Response string `json:"response"`
	} `json:"responseStatus"`
	OnlineMeeting *struct {
		JoinURL string `json:"joinUrl"`
	} `json:"onlineMeeting"`
}

func (e graphEvent) output() recipe.EventOutput {
	out := recipe.EventOutput{EventID: e.ID}
	if e.OnlineMeeting != nil {
		out.JoinURL = e.OnlineMeeting.JoinURL
	}
	return out
}

// when renders a time parameter: RFC 3339, or a local time read in the
// step's timeZone (UTC when unset).
func (x *executor) when(name string) (time.Time, bool, error) {
	v, err := x.text(name)
	if err != nil || v == "" {
		return time.Time{}, false, err
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true, nil
	}
	loc := time.UTC
	if tz := x.str("timeZone"); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, true, nil
		}
	}
	return time.Time{}, false, stepFailed("step %s: %s: %q is not a date-time; give RFC 3339 (2025-03-01T09:00:00Z) or a local time (2025-03-01T09:00) with timeZone", x.step().ID, name, v)
}

func attendees(required, optional []string) []map[string]any {
	var out []map[string]any
	for _, group := range []struct {
		kind  string
		addrs []string
	}{{"required", required}, {"optional", optional}} {
		for _, a := range group.addrs {
			out = append(out, map[string]any{"type": group.kind, "emailAddress": map[string]string{"address": a}})
		}
	}
	return out
}

// eventFields renders the fields createEvent and updateEvent share; only
// the parameters the step sets are included.
func (x *executor) eventFields(creating bool) (map[string]any, error) {
	ev := map[string]any{}
	if x.step().Has("subject") {
		s, err := x.text("subject")
		if err != nil {
			return nil, err
		}
		ev["subject"] = s
	}
	start, hasStart, err := x.when("start")
	if err != nil {
		return nil, err
	}
	end, hasEnd, err := x.when("end")
	if err != nil {
		return nil, err
	}
	if p := x.step().Param("duration"); p != nil && hasStart && !hasEnd {
		end, hasEnd = start.Add(p.Dur), true
	}
	if hasStart {
		ev["start"] = graphDateTime(start)
	}
	if hasEnd {
		ev["end"] = graphDateTime(end)
	}
	if creating && (!hasStart || !hasEnd) {
		return nil, stepFailed("step %s: start and end (or duration) must render to date-times", x.step().ID)
	}
	req, err := x.list("attendees")
	if err != nil {
		return nil, err
	}
	opt, err := x.list("optionalAttendees")
	if err != nil {
		return nil, err
	}
	if x.step().Has("attendees") || x.step().Has("optionalAttendees") {
		ev["attendees"] = attendees(req, opt)
	}
	if x.step().Has("location") {
		loc, err := x.text("location")
		if err != nil {
			return nil, err
		}
		ev["location"] = map[string]string{"displayName": loc}
	}
	if p := x.step().Param("isOnlineMeeting"); p != nil {
		ev["isOnlineMeeting"] = p.Bool
		if p.Bool {
			ev["onlineMeetingProvider"] = "teamsForBusiness"
		}
	}
	if x.step().Has("body") {
		b, err := x.body()
		if err != nil {
			return nil, err
		}
		ev["body"] = b
	}
	return ev, nil
}

// createEvent posts the event with transactionId set to the step's key:
// Graph answers a repeated POST with the event it already created.
func (x *executor) createEvent(ctx context.Context) (any, string, error) {
	mailbox, err := x.target()
	if err != nil {
		return nil, "", err
	}
	ev, err := x.eventFields(true)
	if err != nil {
		return nil, "", err
	}
	ev["transactionId"] = x.key
	var created graphEvent
	if err := x.call(ctx, mailbox, http.MethodPost, userPath(mailbox, "events"), ev, &created); err != nil {
		return nil, "", err
	}
	return created.output(), "created", nil
}

// updateEvent PATCHes the fields the step sets: repeating it changes
// nothing further.
func (x *executor) updateEvent(ctx context.Context) (any, string, error) {
	mailbox, id, err := x.item(x.eventID)
	if err != nil {
		return nil, "", err
	}
	ev, err := x.eventFields(false)
	if err != nil {
		return nil, "", err
	}
	var updated graphEvent
	if err := x.call(ctx, mailbox, http.MethodPatch, userPath(mailbox, "events", id), ev, &updated); err != nil {
		return nil, "", err
	}
	return updated.output(), "updated", nil
}

func (x *executor) getEvent(ctx context.Context, mailbox, id string) (graphEvent, error) {
	var ev graphEvent
	err := x.call(ctx, mailbox, http.MethodGet, userPath(mailbox, "events", id)+"?$select=id,isCancelled,isOrganizer,responseStatus,onlineMeeting", nil, &ev)
	return ev, err
}

// cancelEvent cancels unless the event is already cancelled or gone.
func (x *executor) cancelEvent(ctx context.Context) (any, string, error) {
	mailbox, id, err := x.item(x.eventID)
	if err != nil {
		return nil, "", err
	}
	ev, err := x.getEvent(ctx, mailbox, id)
	if isNotFound(err) {
		return nil, "already gone", nil
	}
	if err != nil {
		return nil, "", err
	}
	if ev.IsCancelled {
		return nil, "already cancelled", nil
	}
	comment, err := x.text("comment")
	if err != nil {
		return nil, "", err
	}
	err = x.call(ctx, mailbox, http.MethodPost, userPath(mailbox, "events", id, "cancel"), map[string]string{"comment": comment}, nil)
	if isNotFound(err) {
		return nil, "already gone", nil
	}
	if err != nil {
		return nil, "", err
	}
	return nil, "cancelled", nil
}

// respondToEvent accepts, tentatively accepts or declines unless the
// event already shows that response.
func (x *executor) respondToEvent(ctx context.Context) (any, string, error) {
	mailbox, id, err := x.item(x.eventID)
	if err != nil {
		return nil, "", err
	}
	responses := map[string][2]string{ // response → Graph function, the status it leaves
		"accept":    {"accept", "accepted"},
		"tentative": {"tentativelyAccept", "tentativelyAccepted"},
		"decline":   {"decline", "declined"},
	}
	pair, ok := responses[x.str("response")]
	if !ok {
		return nil, "", stepFailed("step %s: response must be accept, tentative or decline", x.step().ID)
	}
	fn, status := pair[0], pair[1]
	ev, err := x.getEvent(ctx, mailbox, id)
	if err != nil {
		return nil, "", err
	}
	if ev.ResponseStatus.Response == status {
		return nil, "already " + status, nil
	}
	comment, err := x.text("comment")
	if err != nil {
		return nil, "", err
	}
	body := map[string]any{"comment": comment, "sendResponse": true}
	if p := x.step().Param("sendResponse"); p != nil {
		body["sendResponse"] = p.Bool
	}
	if err := x.call(ctx, mailbox, http.MethodPost, userPath(mailbox, "events", id, fn), body, nil); err != nil {
		return nil, "", err
	}
	return nil, status, nil
}

// createOnlineMeeting uses createOrGet with the step's key as externalId:
// Graph returns the meeting it made for that key instead of a second one.
func (x *executor) createOnlineMeeting(ctx context.Context) (any, string, error) {
	mailbox, err := x.target()
	if err != nil {
		return nil, "", err
	}
	subject, err := x.text("subject")
	if err != nil {
		return nil, "", err
	}
	start, _, err := x.when("start")
	if err != nil {
		return nil, "", err
	}
	end, hasEnd, err := x.when("end")
	if err != nil {
		return nil, "", err
	}
	if p := x.step().Param("duration"); p != nil && !hasEnd {
		end = start.Add(p.Dur)
	}
	body := map[string]any{"externalId": x.key, "subject": subject,
		"startDateTime": start.UTC().Format(time.RFC3339), "endDateTime": end.UTC().Format(time.RFC3339)}
	var m struct {
		ID         string `json:"id"`
		JoinWebURL string `json:"joinWebUrl"`
	}
	if err := x.call(ctx, mailbox, http.MethodPost, userPath(mailbox, "onlineMeetings", "createOrGet"), body, &m); err != nil {
		return nil, "", err
	}
	return recipe.OnlineMeetingOutput{MeetingID: m.ID, JoinURL: m.JoinWebURL}, "created", nil
}

// --- contacts, settings, Teams, raw requests -------------------------------

// contact creates a contact tagged with the key (found first on a retry)
// or PATCHes an existing one.
func (x *executor) contact(ctx context.Context, update bool) (any, string, error) {
	mailbox, err := x.target()
	if err != nil {
		return nil, "", err
	}
	c := map[string]any{}
	for _, f := range []string{"displayName", "givenName", "surname", "companyName", "jobTitle", "mobilePhone"} {
		if x.step().Has(f) {
			v, err := x.text(f)
			if err != nil {
				return nil, "", err
			}
			c[f] = v
		}
	}
	if x.step().Has("emails") {
		addrs, err := x.list("emails")
		if err != nil {
			return nil, "", err
		}
		var es []map[string]string
		for _, a := range addrs {
			es = append(es, map[string]string{"address": a})
		}
		c["emailAddresses"] = es
	}
	if x.step().Has("businessPhones") {
		phones, err := x.list("businessPhones")
		if err != nil {
			return nil, "", err
		}
		c["businessPhones"] = phones
	}
	var got struct {
		ID string `json:"id"`
	}
	if update {
		id, err := x.text("contactId")
		if err != nil {
			return nil, "", err
		}
		if err := x.call(ctx, mailbox, http.MethodPatch, userPath(mailbox, "contacts", id), c, &got); err != nil {
			return nil, "", err
		}
		return recipe.ContactOutput{ContactID: cmp.Or(got.ID, id)}, "updated", nil
	}
	q := url.Values{"$filter": {fmt.Sprintf("singleValueExtendedProperties/Any(ep: ep/id eq '%s' and ep/value eq '%s')", keyProperty, x.key)}, "$select": {"id"}}
	var page struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if err := x.call(ctx, mailbox, http.MethodGet, userPath(mailbox, "contacts")+"?"+encodeQuery(q), nil, &page); err != nil {
		return nil, "", err
	}
	if len(page.Value) > 0 {
		return recipe.ContactOutput{ContactID: page.Value[0].ID}, "already created (found by its key)", nil
	}
	c["singleValueExtendedProperties"] = x.tag()
	if err := x.call(ctx, mailbox, http.MethodPost, userPath(mailbox, "contacts"), c, &got); err != nil {
		return nil, "", err
	}
	return recipe.ContactOutput{ContactID: got.ID}, "created", nil
}

// setAutomaticReplies PATCHes the mailbox settings: setting the same
// values again is harmless.
func (x *executor) setAutomaticReplies(ctx context.Context) (any, string, error) {
	mailbox, err := x.target()
	if err != nil {
		return nil, "", err
	}
	set := map[string]any{"status": x.str("status")}
	if aud := x.str("externalAudience"); aud != "" {
		set["externalAudience"] = aud
	}
	for param, field := range map[string]string{"internalMessage": "internalReplyMessage", "externalMessage": "externalReplyMessage"} {
		if x.step().Has(param) {
			v, err := x.text(param)
			if err != nil {
				return nil, "", err
			}
			set[field] = v
		}
	}
	for param, field := range map[string]string{"start": "scheduledStartDateTime", "end": "scheduledEndDateTime"} {
		t, ok, err := x.when(param)
		if err != nil {
			return nil, "", err
		}
		if ok {
			set[field] = graphDateTime(t)
		}
	}
	if err := x.call(ctx, mailbox, http.MethodPatch, userPath(mailbox, "mailboxSettings"), map[string]any{"automaticRepliesSetting": set}, nil); err != nil {
		return nil, "", err
	}
	return nil, "set", nil
}

type chatMessage struct {
	ID              string    `json:"id"`
	WebURL          string    `json:"webUrl"`
	CreatedDateTime time.Time `json:"createdDateTime"`
	Body            struct {
		Content string `json:"content"`
	} `json:"body"`
}

// postChannelMessage posts once. A channel message has no idempotency key
// in Graph, so when an earlier attempt of this step may have posted (its
// response was lost, the worker died), the channel's recent messages are
// read and a message with the same content posted since that attempt is
// taken as ours; if they cannot be read (no ChannelMessage.Read.All), the
// step fails rather than risk a second post.
func (x *executor) postChannelMessage(ctx context.Context) (any, string, error) {
	team, err := x.text("team")
	if err != nil {
		return nil, "", err
	}
	channel, err := x.text("channel")
	if err != nil {
		return nil, "", err
	}
	body, err := x.body()
	if err != nil {
		return nil, "", err
	}
	msg := map[string]any{"body": body}
	if x.step().Has("subject") {
		s, err := x.text("subject")
		if err != nil {
			return nil, "", err
		}
		msg["subject"] = s
	}
	path := "/teams/" + url.PathEscape(team) + "/channels/" + url.PathEscape(channel) + "/messages"
	if activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt > 1 {
		var page struct {
			Value []chatMessage `json:"value"`
		}
		// Anything posted since the run began may be this step's.
		since := x.rc.run.CreatedAt.Add(-time.Minute)
		if err := x.call(ctx, x.mailbox, http.MethodGet, path+"?$top=50", nil, &page); err != nil {
			return nil, "", stepFailed("step %s: an earlier attempt may have posted the message (its outcome is unknown) and the channel could not be read to check (%v); not posting twice — check the channel, and grant ChannelMessage.Read.All (admin consent) so a retry can check by itself", x.step().ID, err)
		}
		for _, m := range page.Value {
			if !m.CreatedDateTime.Before(since) && m.Body.Content == body["content"] {
				return recipe.ChannelMessageOutput{MessageID: m.ID, WebURL: m.WebURL}, "already posted (found in the channel)", nil
			}
		}
	}
	var posted chatMessage
	if err := x.call(ctx, x.mailbox, http.MethodPost, path, msg, &posted); err != nil {
		return nil, "", err
	}
	return recipe.ChannelMessageOutput{MessageID: posted.ID, WebURL: posted.WebURL}, "posted", nil
}

// graphRequest sends the step's request. GET, PUT, PATCH and DELETE are
// repeatable; a POST is sent once: when an earlier attempt's outcome is
// unknown, the step fails rather than post twice.
func (x *executor) graphRequest(ctx context.Context) (any, string, error) {
	method := x.str("method")
	path, err := x.text("path")
	if err != nil {
		return nil, "", err
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if method == http.MethodPost && activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt > 1 {
		return nil, "", stepFailed("step %s: an earlier attempt of this POST may have gone through (its outcome is unknown); a raw POST has no idempotency key, so it is not sent twice", x.step().ID)
	}
	var body any
	if x.step().Has("body") {
		text, err := x.text("body")
		if err != nil {
			return nil, "", err
		}
		body = rawJSON(text)
	}
	var out rawJSON
	err = x.call(ctx, x.mailbox, method, path, body, &out)
	var ge *GraphError
	if errors.As(err, &ge) && !ge.Kind.Retryable() {
		// Graph's refusal is the step's answer, for the recipe to branch on.
		return recipe.GraphOutput{Status: ge.Status, Body: ge.Message}, fmt.Sprintf("answered %d", ge.Status), nil
	}
	if err != nil {
		return nil, "", err
	}
	return recipe.GraphOutput{Status: http.StatusOK, Body: string(out)}, "answered", nil
}

// rawJSON passes a body through as it is.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

func (r *rawJSON) UnmarshalJSON(b []byte) error { *r = append((*r)[:0], b...); return nil }
