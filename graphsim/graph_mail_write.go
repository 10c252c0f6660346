package graphsim

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"net/mail"
	"strings"
)

// Mail writes (graph-behavior §3 and S24-S29):
//
//	POST   .../messages                               draft (api/user-post-messages.md): 201 message, isDraft, in Drafts or the folder
//	DELETE .../messages/{id}                          204 (api/message-delete.md)
//	POST   .../messages/{id}/send                     202, empty body (api/message-send.md)
//	POST   .../messages/{id}/reply|replyAll|forward   202, empty body (api/message-reply.md, -replyall, -forward)
//	POST   .../messages/{id}/createReply|createReplyAll|createForward  201 draft message
//	POST   .../messages/{id}/move|copy                201 message with a new id (api/message-move.md, -copy)
//	POST   .../mailFolders[/{id}/childFolders]        201 mailFolder; 409 ErrorFolderExists for a taken name
//
// "..." is /users/{id|upn} (or /me) optionally followed by
// /mailFolders/{id}[/childFolders/{id}...]. Send, reply, replyAll and
// forward need Mail.Send; everything else Mail.ReadWrite (§8, and the
// permission tables of the pages above); otherwise 403 ErrorAccessDenied.
// Every write shows up in the next message delta round of the folders it
// touches (created in the new folder, @removed in the old one) and in the
// next mailFolders/delta round (count changes). Delivery to simulated
// recipients is immediate, which real Exchange does not promise.

// mailAction is a message action segment, lower-case, without the optional
// "microsoft.graph." namespace prefix; "" when seg is none.
func mailAction(seg string) string {
	s := strings.TrimPrefix(strings.ToLower(seg), "microsoft.graph.")
	switch s {
	case "send", "reply", "replyall", "forward", "createreply", "createreplyall", "createforward", "move", "copy":
		return s
	}
	return ""
}

// routeMessages routes what follows .../messages, under the mailbox
// (folderKey "") or a folder: [] (list, create), [id] (get, PATCH, DELETE)
// and [id, action].
func (s *Server) routeMessages(g *graphRequest, folderKey string, rest []string) {
	switch {
	case len(rest) == 0:
		if g.r.Method == http.MethodPost {
			s.createDraft(g, folderKey)
			return
		}
		if g.method(http.MethodGet) {
			s.listMessages(g, folderKey)
		}
	case len(rest) == 1 && !isDelta(rest[0]):
		if g.r.Method == http.MethodDelete {
			s.deleteMessage(g, folderKey, rest[0])
			return
		}
		s.messageItem(g, folderKey, rest[0])
	case len(rest) == 2 && mailAction(rest[1]) != "":
		if !g.method(http.MethodPost) {
			return
		}
		switch a := mailAction(rest[1]); a {
		case "send":
			s.sendDraft(g, folderKey, rest[0])
		case "move", "copy":
			s.moveOrCopyMessage(g, folderKey, rest[0], a == "copy")
		default:
			s.respondToMessage(g, folderKey, rest[0], a)
		}
	default:
		prefix := "/users/{id}/messages/"
		if folderKey != "" {
			prefix = "/users/{id}/mailFolders/{id}/messages/"
		}
		errNotSimulated(g.w, g.r, prefix+strings.Join(rest, "/"))
	}
}

// newMessageID returns a fresh message id in owner's mailbox and the
// tenant's creation sequence number for it.
func (t *tenant) newMessageID(owner *user) (string, int) {
	t.seq++
	return outlookID("message", t.id, owner.id, fmt.Sprint(t.seq), randomGUID()), t.seq
}

// newDraft returns an empty draft of owner's (not yet in the mailbox), as
// Exchange creates one: read, normal importance, its own conversation and
// Internet message id.
func (t *tenant) newDraft(owner *user, f *folder) *message {
	now := timeNow()
	id, seq := t.newMessageID(owner)
	return &message{
		id: id, seq: seq, folder: f, bodyType: "text",
		receivedAt: now, sentAt: now, createdAt: now, modifiedAt: now,
		isRead: true, isDraft: true, importance: "normal",
		conversationID: outlookID("conversation", t.id, randomGUID()),
		internetMsgID:  fmt.Sprintf("<%s@%s>", randomGUID(), hostOf(owner.mail, t.domain)),
		inferenceClass: "focused", flagStatus: "notFlagged",
	}
}

// place puts a new message into its folder: the folder's delta links then
// report it as created. Callers hold s.mu.
func (t *tenant) place(owner *user, m *message) {
	m.folderSeq = t.nextChange()
	touchFolder(m.folder, m.folderSeq)
	owner.addMessage(m)
}

// remove takes a message out of the mailbox: its folder's delta links then
// report it as {"@removed":{"reason":"deleted"}}. Callers hold s.mu.
func (t *tenant) remove(owner *user, m *message) {
	owner.removeMessage(m)
	seq := t.nextChange()
	owner.msgTombstones = append(owner.msgTombstones, tombstone{id: m.id, folderID: m.folder.id, seq: seq, addedSeq: m.folderSeq})
	touchFolder(m.folder, seq)
}

// resolveNames fills empty recipient names the way Exchange does on save:
// the directory display name for tenant users, else the address.
func (t *tenant) resolveNames(m *message) {
	for _, list := range [][]recipient{m.to, m.cc, m.bcc, m.replyTo} {
		for i := range list {
			if list[i].Name == "" {
				list[i].Name = t.recipientFor(list[i].Address).Name
			}
		}
	}
}

// dispatch sends out (a message outside any mailbox, recipients set) from
// sender: a copy in each simulated recipient's inbox (to, cc and bcc, once
// per mailbox; bcc visible only to the sender) and, when save is set, a
// read copy in the sender's Sent Items that keeps the extended properties
// and categories. Every copy has its own id; all share the conversation
// and Internet message id. Callers hold s.mu.
func (t *tenant) dispatch(sender *user, out *message, save bool) *message {
	now := timeNow()
	if out.from.Address == "" {
		out.from = recipient{Name: sender.displayName, Address: sender.mail}
	}
	if out.conversationID == "" {
		out.conversationID = outlookID("conversation", t.id, randomGUID())
	}
	if out.internetMsgID == "" {
		out.internetMsgID = fmt.Sprintf("<%s@%s>", randomGUID(), hostOf(sender.mail, t.domain))
	}
	if out.importance == "" {
		out.importance = "normal"
	}
	if out.bodyType == "" {
		out.bodyType = "text"
	}
	copyFor := func(owner *user, f *folder, own bool) *message {
		id, seq := t.newMessageID(owner)
		m := &message{
			id: id, seq: seq, folder: f,
			subject: out.subject, bodyType: out.bodyType, bodyContent: out.bodyContent,
			from: out.from, to: cloneRecipients(out.to), cc: cloneRecipients(out.cc), replyTo: cloneRecipients(out.replyTo),
			receivedAt: now, sentAt: now, createdAt: now, modifiedAt: now,
			isRead: own, importance: out.importance,
			conversationID: out.conversationID, internetMsgID: out.internetMsgID,
			hasAttachments: out.hasAttachments, inferenceClass: "focused", flagStatus: "notFlagged",
			deliveryReceipt: out.deliveryReceipt, readReceipt: out.readReceipt,
			headers:  append([][2]string(nil), out.headers...),
			mentions: cloneRecipients(out.mentions),
		}
		if own {
			m.bcc = cloneRecipients(out.bcc)
			m.extProps = append([]msgExtProp(nil), out.extProps...)
			m.categories = append([]string(nil), out.categories...)
		}
		t.place(owner, m)
		return m
	}
	var sent *message
	if save {
		sent = copyFor(sender, sender.folderByKey("sentitems"), true)
	}
	delivered := map[*user]bool{}
	for _, rc := range concatRecipients(out.to, out.cc, out.bcc) {
		rcpt := t.userByAddress(rc.Address)
		if rcpt == nil || rcpt.mail == "" || delivered[rcpt] {
			continue
		}
		delivered[rcpt] = true
		copyFor(rcpt, rcpt.folderByKey("inbox"), false)
	}
	return sent
}

func cloneRecipients(rs []recipient) []recipient { return append([]recipient(nil), rs...) }

func concatRecipients(lists ...[]recipient) []recipient {
	var out []recipient
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// checkRecipients answers what Exchange answers for a message without a
// recipient or with an unresolvable address (the sendMail errors).
func checkRecipients(w http.ResponseWriter, r *http.Request, m *message) bool {
	all := concatRecipients(m.to, m.cc, m.bcc)
	if len(all) == 0 {
		errBadRequest(w, r, "ErrorInvalidRecipients", "At least one recipient is required, but none were found.")
		return false
	}
	for _, rc := range all {
		if _, err := mail.ParseAddress(rc.Address); err != nil || !strings.Contains(rc.Address, "@") {
			errBadRequest(w, r, "ErrorInvalidRecipients",
				fmt.Sprintf("At least one recipient isn't valid., Recipient '%s' isn't resolved. All recipients must be resolved before a message can be submitted.", rc.Address))
			return false
		}
	}
	return true
}

func isMIMERequest(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "text/plain")
}

// applyOutgoing copies a MIME message's headers and body onto m.
func applyOutgoing(t *tenant, m *message, in outgoing) {
	if in.subject != "" {
		m.subject = in.subject
	}
	m.bodyType, m.bodyContent = in.bodyType, in.body
	for _, a := range in.to {
		m.to = append(m.to, t.recipientFor(a))
	}
	for _, a := range in.cc {
		m.cc = append(m.cc, t.recipientFor(a))
	}
	for _, a := range in.bcc {
		m.bcc = append(m.bcc, t.recipientFor(a))
	}
}

// takeCreateOnly removes the message properties only a create accepts
// (internetMessageHeaders, attachments) from a JSON message and returns
// the custom headers and the attachment count. On failure the error has
// been written.
func takeCreateOnly(w http.ResponseWriter, r *http.Request, in map[string]any) (headers [][2]string, attachments int, ok bool) {
	for k, v := range in {
		switch {
		case strings.EqualFold(k, "internetMessageHeaders"):
			delete(in, k)
			arr, _ := v.([]any)
			for _, item := range arr {
				o, _ := item.(map[string]any)
				name, value := ciString(o, "name"), ciString(o, "value")
				if !strings.HasPrefix(strings.ToLower(name), "x-") {
					// [obs] the error Exchange gives for a standard header.
					errBadRequest(w, r, "InvalidInternetMessageHeader", fmt.Sprintf("The internet message header name '%s' should start with 'x-' or 'X-'.", name))
					return nil, 0, false
				}
				headers = append(headers, [2]string{name, value})
			}
		case strings.EqualFold(k, "attachments"):
			delete(in, k)
			arr, _ := v.([]any)
			attachments = len(arr)
		}
	}
	return headers, attachments, true
}

// createDraft is POST .../messages and .../mailFolders/{id}/messages
// (api/user-post-messages.md, S28): a JSON message (the writable
// properties of api/message-update.md, plus singleValueExtendedProperties,
// custom x- internetMessageHeaders and attachments) or a base64 MIME
// message as text/plain. It answers 201 with the draft (isDraft true, in
// Drafts unless a folder is given), without its extended properties.
func (s *Server) createDraft(g *graphRequest, folderKey string) {
	w, r := g.w, g.r
	if !g.p.has(permMailWrite...) {
		errMailDenied(w, r)
		return
	}
	raw, ok := readBody(w, r)
	if !ok {
		return
	}
	var (
		changes     []messageChange
		headers     [][2]string
		attachments int
		mimeIn      *outgoing
	)
	if isMIMERequest(r) {
		in, ok := parseMIMESend(w, r, raw)
		if !ok {
			return
		}
		mimeIn = &in
	} else {
		in, ok := decodeJSONObject(w, r, raw)
		if !ok {
			return
		}
		if headers, attachments, ok = takeCreateOnly(w, r, in); !ok {
			return
		}
		if changes, _, ok = parseMessagePatch(w, r, in); !ok {
			return
		}
	}
	bodyType, preferText := preferredBodyType(r)
	u, f, ok := s.lockMailbox(g, folderKey)
	if !ok {
		return
	}
	t := g.p.tenant
	if f == nil {
		f = u.folderByKey("drafts")
	}
	m := t.newDraft(u, f)
	if mimeIn != nil {
		applyOutgoing(t, m, *mimeIn)
	}
	for _, c := range changes {
		c(m)
	}
	m.headers, m.hasAttachments = headers, attachments > 0
	t.resolveNames(m)
	t.place(u, m)
	entity := messageJSON(m, nil, g.p.has(permMailBody...), bodyType)
	s.mu.Unlock()
	writeMessageEntity(g, http.StatusCreated, nil, entity, preferText)
}

// errNotADraft is what sending a message that is not a draft gives:
// [obs rlrghb/olkcli#118] "The specified object was not found in the store".
func errNotADraft(g *graphRequest) {
	writeGraphError(g.w, g.r, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
}

// sendDraft is POST .../messages/{id}/send (api/message-send.md, S28): 202
// with an empty body. The draft leaves its folder and a copy with a new id
// (isDraft false, sentDateTime now, extended properties kept) lands in Sent
// Items; simulated recipients get it in their inbox. Any request body is
// ignored (the page says none is needed).
func (s *Server) sendDraft(g *graphRequest, folderKey, id string) {
	w, r := g.w, g.r
	if !g.p.has(permMailSend...) {
		errMailDenied(w, r)
		return
	}
	u, m, ok := s.lockMessage(g, folderKey, id)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	switch {
	case !m.isDraft:
		errNotADraft(g)
		return
	case !checkRecipients(w, r, m):
		return
	}
	t := g.p.tenant
	out := *m
	t.remove(u, m)
	t.dispatch(u, &out, true)
	respondEmpty(w, r, http.StatusAccepted)
}

// deleteMessage is DELETE .../messages/{id} (api/message-delete.md): 204.
// Exchange moves the item to the Recoverable Items Deletions folder
// (well-known name recoverableitemsdeletions), outside the folder tree
// Graph lists, not to Deleted Items; the simulator does not keep that
// folder, so the message is simply gone and its folder's delta reports it
// removed.
func (s *Server) deleteMessage(g *graphRequest, folderKey, id string) {
	w, r := g.w, g.r
	if !g.p.has(permMailWrite...) {
		errMailDenied(w, r)
		return
	}
	u, m, ok := s.lockMessage(g, folderKey, id)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	g.p.tenant.remove(u, m)
	respondEmpty(w, r, http.StatusNoContent)
}

// moveOrCopyMessage is POST .../messages/{id}/move and /copy with
// {"destinationId": folder id or well-known name} (api/message-move.md,
// api/message-copy.md, S26): 201 with the message under a new id. A move
// takes the message out of its folder (the old id then gives 404
// ErrorItemNotFound); a copy leaves it. A display name as destination gives
// 400 ErrorInvalidIdMalformed, an unknown id 404 ErrorItemNotFound.
func (s *Server) moveOrCopyMessage(g *graphRequest, folderKey, id string, copyIt bool) {
	w, r := g.w, g.r
	if !g.p.has(permMailWrite...) {
		errMailDenied(w, r)
		return
	}
	in, ok := readJSONBody(g, true)
	if !ok {
		return
	}
	dest := strings.TrimSpace(ciString(in, "destinationId"))
	if dest == "" {
		errBadRequest(w, r, "ErrorInvalidParameter", "The value of the parameter 'DestinationId' is empty.") // [unv]
		return
	}
	bodyType, preferText := preferredBodyType(r)
	u, m, ok := s.lockMessage(g, folderKey, id)
	if !ok {
		return
	}
	t := g.p.tenant
	df := u.folderByKey(dest)
	if df == nil {
		s.mu.Unlock()
		errItemNotFoundOrMalformed(g, dest)
		return
	}
	now := timeNow()
	result := m
	switch {
	case copyIt:
		c := *m
		c.id, c.seq = t.newMessageID(u)
		c.folder, c.createdAt, c.modifiedAt, c.changeVersion, c.changedSeq = df, now, now, 0, 0
		c.to, c.cc, c.bcc, c.replyTo = cloneRecipients(m.to), cloneRecipients(m.cc), cloneRecipients(m.bcc), cloneRecipients(m.replyTo)
		c.categories = append([]string(nil), m.categories...)
		c.extProps = append([]msgExtProp(nil), m.extProps...)
		c.headers = append([][2]string(nil), m.headers...)
		c.mentions = cloneRecipients(m.mentions)
		t.place(u, &c)
		result = &c
	case df != m.folder:
		// A new item in the destination, the old one removed (the SDK's
		// move builder: "creates a new copy ... and removes the original").
		t.remove(u, m)
		m.id, m.seq = t.newMessageID(u)
		m.folder, m.modifiedAt, m.changedSeq = df, now, 0
		m.changeVersion++
		t.place(u, m)
	}
	entity := messageJSON(result, nil, g.p.has(permMailBody...), bodyType)
	s.mu.Unlock()
	writeMessageEntity(g, http.StatusCreated, nil, entity, preferText)
}

// respondToMessage is POST .../messages/{id}/reply|replyAll|forward (202,
// Mail.Send) and createReply|createReplyAll|createForward (201 draft,
// Mail.ReadWrite), per api/message-reply.md and its siblings:
//
//   - JSON {comment?, message?} (forward also toRecipients); comment and
//     message.body together give 400; for forward and createForward,
//     toRecipients in both places or in neither gives 400. message may set
//     any writable property, singleValueExtendedProperties included.
//   - or base64 MIME as text/plain (its To/CC/BCC for forward; replies go
//     to the original sender).
//
// A reply goes to the original's replyTo when set, else its from;
// replyAll adds the original to and cc recipients except the mailbox
// owner. The subject gets "RE: " or "FW: " (not repeated), the
// conversationId is the original's, the body holds the comment above the
// quoted original. Sent responses are delivered to simulated recipients
// and saved in Sent Items.
func (s *Server) respondToMessage(g *graphRequest, folderKey, id, action string) {
	w, r := g.w, g.r
	draft := strings.HasPrefix(action, "create")
	kind := strings.TrimPrefix(action, "create") // reply, replyall, forward
	perms := permMailSend
	if draft {
		perms = permMailWrite
	}
	if !g.p.has(perms...) {
		errMailDenied(w, r)
		return
	}
	raw, ok := readBody(w, r)
	if !ok {
		return
	}
	var (
		comment            string
		intro              *message // message.body, as the intro above the quote
		changes            []messageChange
		fwdTo              []recipient
		paramTo, messageTo bool
		mimeIn             *outgoing
	)
	switch {
	case isMIMERequest(r):
		in, ok := parseMIMESend(w, r, raw)
		if !ok {
			return
		}
		mimeIn = &in
	case len(bytes.TrimSpace(raw)) > 0:
		in, ok := decodeJSONObject(w, r, raw)
		if !ok {
			return
		}
		cv, hasComment := ciGet(in, "comment")
		hasComment = hasComment && cv != nil
		comment, _ = cv.(string)
		if tv, has := ciGet(in, "toRecipients"); has && tv != nil {
			if kind != "forward" {
				errBadRequest(w, r, "RequestBodyRead", fmt.Sprintf("The parameter 'toRecipients' in the request payload is not a valid parameter for the operation '%s'.", action)) // [unv]
				return
			}
			if fwdTo, ok = parseRecipients(tv); !ok {
				errBadRequest(w, r, "ErrorInvalidRequest", "Invalid value for parameter 'toRecipients'.") // [unv]
				return
			}
			paramTo = true
		}
		if msg := ciObject(in, "message"); msg != nil {
			for k, v := range msg {
				switch {
				case strings.EqualFold(k, "body"):
					if hasComment && v != nil {
						// Documented 400; code and text [unv].
						errBadRequest(w, r, "ErrorInvalidRequest", "Specify either a comment or the body property of the message parameter, not both.")
						return
					}
					delete(msg, k)
					b, _ := v.(map[string]any)
					intro = &message{bodyType: "text", bodyContent: ciString(b, "content")}
					if strings.EqualFold(ciString(b, "contentType"), "html") {
						intro.bodyType = "html"
					}
				case strings.EqualFold(k, "toRecipients"):
					arr, _ := v.([]any)
					messageTo = len(arr) > 0
				}
			}
			if changes, _, ok = parseMessagePatch(w, r, msg); !ok {
				return
			}
		}
	}
	if kind == "forward" && mimeIn == nil && paramTo == messageTo {
		// Documented 400 for both or neither; code and text [unv].
		if paramTo {
			errBadRequest(w, r, "ErrorInvalidRequest", "Specify either the toRecipients parameter or the toRecipients property of the message parameter, not both.")
		} else {
			errBadRequest(w, r, "ErrorInvalidRecipients", "At least one recipient is required, but none were found.")
		}
		return
	}
	bodyType, preferText := preferredBodyType(r)
	u, orig, ok := s.lockMessage(g, folderKey, id)
	if !ok {
		return
	}
	t := g.p.tenant
	m := t.newDraft(u, u.folderByKey("drafts"))
	m.conversationID = orig.conversationID
	prefix := "RE: "
	if kind == "forward" {
		prefix = "FW: "
	}
	m.subject = orig.subject
	if !strings.HasPrefix(strings.ToUpper(m.subject), prefix) {
		m.subject = prefix + m.subject
	}
	switch kind {
	case "forward":
		m.to = fwdTo
		m.hasAttachments = orig.hasAttachments
	default:
		m.to = replyRecipients(orig)
		if kind == "replyall" {
			self := strings.ToLower(u.mail)
			seen := map[string]bool{self: true}
			for _, rc := range m.to {
				seen[strings.ToLower(rc.Address)] = true
			}
			for _, rc := range orig.to {
				if a := strings.ToLower(rc.Address); !seen[a] {
					seen[a] = true
					m.to = append(m.to, rc)
				}
			}
			for _, rc := range orig.cc {
				if a := strings.ToLower(rc.Address); !seen[a] {
					seen[a] = true
					m.cc = append(m.cc, rc)
				}
			}
		}
	}
	if intro == nil {
		intro = &message{bodyType: "text", bodyContent: comment}
	}
	m.bodyType, m.bodyContent = "html", quoteOriginal(intro, orig)
	if mimeIn != nil {
		in := *mimeIn
		if kind != "forward" {
			in.to, in.cc, in.bcc = nil, nil, nil // "uses the sender of the original message as recipient"
		} else {
			m.to = nil
		}
		applyOutgoing(t, m, in)
	}
	for _, c := range changes {
		c(m)
	}
	t.resolveNames(m)
	if draft {
		t.place(u, m)
		entity := messageJSON(m, nil, g.p.has(permMailBody...), bodyType)
		s.mu.Unlock()
		writeMessageEntity(g, http.StatusCreated, nil, entity, preferText)
		return
	}
	defer s.mu.Unlock()
	if !checkRecipients(w, r, m) {
		return
	}
	t.dispatch(u, m, true)
	respondEmpty(w, r, http.StatusAccepted)
}

// replyRecipients: "If the original message specifies a recipient in the
// replyTo property ... send the reply to the recipients in replyTo and not
// the recipient in the from property" (api/message-reply.md).
func replyRecipients(orig *message) []recipient {
	if len(orig.replyTo) > 0 {
		return cloneRecipients(orig.replyTo)
	}
	if orig.from.Address == "" {
		return nil
	}
	return []recipient{orig.from}
}

// quoteOriginal renders a reply or forward body the way Outlook lays it
// out: the new text, a rule, a From/Sent/To/Subject block and the original.
func quoteOriginal(intro, orig *message) string {
	var b strings.Builder
	b.WriteString("<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body>")
	b.WriteString("<div>")
	if intro.bodyType == "html" {
		b.WriteString(intro.bodyContent)
	} else {
		b.WriteString(strings.ReplaceAll(html.EscapeString(intro.bodyContent), "\n", "<br>\r\n"))
	}
	b.WriteString("</div>\r\n<hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">\r\n<div id=\"divRplyFwdMsg\" dir=\"ltr\">")
	addr := func(rc recipient) string {
		if rc.Name != "" && rc.Name != rc.Address {
			return html.EscapeString(rc.Name + " <" + rc.Address + ">")
		}
		return html.EscapeString(rc.Address)
	}
	var to []string
	for _, rc := range orig.to {
		to = append(to, addr(rc))
	}
	fmt.Fprintf(&b, "<b>From:</b> %s<br>\r\n<b>Sent:</b> %s<br>\r\n<b>To:</b> %s<br>\r\n<b>Subject:</b> %s</div>\r\n<div>",
		addr(orig.from), orig.sentAt.UTC().Format("Monday, January 2, 2006 3:04 PM"), strings.Join(to, "; "), html.EscapeString(orig.subject))
	b.WriteString(strings.ReplaceAll(html.EscapeString(orig.textBody()), "\n", "<br>\r\n"))
	b.WriteString("</div></body></html>")
	return b.String()
}

// createMailFolder is POST .../mailFolders (parentPath nil: under the root
// folder, api/user-post-mailfolders.md) and POST
// .../mailFolders/{id}/childFolders (api/mailfolder-post-childfolders.md),
// S29: {"displayName", "isHidden"} (the only writable properties) gives
// 201 with the mailFolder; a folder of that name (case-insensitive) under
// the same parent gives 409 ErrorFolderExists.
func (s *Server) createMailFolder(g *graphRequest, parentPath []string) {
	w, r := g.w, g.r
	if !g.p.has(permMailWrite...) {
		errMailDenied(w, r)
		return
	}
	in, ok := readJSONBody(g, true)
	if !ok {
		return
	}
	var name string
	hidden := false
	for k, v := range in {
		switch {
		case strings.HasPrefix(k, "@"):
		case strings.EqualFold(k, "displayName"):
			name, _ = v.(string)
		case strings.EqualFold(k, "isHidden"):
			b, err := ciBool(in, k, false)
			if err != nil {
				errBadRequest(w, r, "ErrorInvalidRequest", "Invalid value for property 'isHidden'.") // [unv]
				return
			}
			hidden = b
		case strings.EqualFold(k, "singleValueExtendedProperties"), strings.EqualFold(k, "multiValueExtendedProperties"):
			errNotSimulated(w, r, "extended properties on mail folders")
			return
		default:
			if _, bad := canonicalProps([]string{k}, mailFolderProps); bad == "" {
				errBadRequest(w, r, "ErrorInvalidPropertySet", fmt.Sprintf("The property '%s' is read-only and cannot be set.", k)) // [unv]
				return
			}
			errBadRequest(w, r, "RequestBodyRead", fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.mailFolder'. Make sure to only use property names that are defined by the type or mark the type as open type.", k))
			return
		}
	}
	if strings.TrimSpace(name) == "" {
		errBadRequest(w, r, "ErrorInvalidParameter", "The value of the parameter 'DisplayName' is empty.") // [unv]
		return
	}
	u, _, ok := s.lockMailbox(g, "")
	if !ok {
		return
	}
	t := g.p.tenant
	parentID := u.rootID
	if len(parentPath) > 0 {
		p, ok := folderPath(g, u, parentPath)
		if !ok {
			s.mu.Unlock()
			return
		}
		parentID = p.id
	}
	for _, o := range u.folders {
		if o.parentID == parentID && strings.EqualFold(o.display, name) {
			s.mu.Unlock()
			writeGraphError(w, r, http.StatusConflict, "ErrorFolderExists", "A folder with the specified name already exists.")
			return
		}
	}
	f := &folder{id: outlookID("folder", t.id, u.id, "created", fmt.Sprint(t.changeSeq+1), randomGUID()), display: name, parentID: parentID, hidden: hidden}
	u.folders = append(u.folders, f)
	f.createdSeq = t.nextChange()
	touchFolder(u.folderByID(parentID), f.createdSeq) // its childFolderCount changed
	entity := folderJSON(f, u.folderStats()[f], nil)
	s.mu.Unlock()
	ctx := fmt.Sprintf("users('%s')/mailFolders", g.userKey())
	if len(parentPath) > 0 {
		ctx += fmt.Sprintf("('%s')/childFolders", parentPath[len(parentPath)-1])
	}
	writeGraphJSON(w, r, http.StatusCreated, append(object{{"@odata.context", contextURL(r, ctx+"/$entity")}}, entity...))
}
