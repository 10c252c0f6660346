package graphsim

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Mail: list/get messages (whole mailbox or one folder), list/get mail
// folders, and sendMail.

const (
	messagesDefaultPage = 10
	messagesMaxPage     = 1000
)

// messageProps is the message property order Graph uses; $select picks from
// it (case-insensitively) and the response keeps this order. uniqueBody is
// returned only when selected.
var messageProps = []string{
	"createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "receivedDateTime",
	"sentDateTime", "hasAttachments", "internetMessageId", "subject", "bodyPreview", "importance",
	"parentFolderId", "conversationId", "conversationIndex", "isDeliveryReceiptRequested",
	"isReadReceiptRequested", "isRead", "isDraft", "webLink", "inferenceClassification", "body",
	"uniqueBody", "sender", "from", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "flag",
}

// messageSelectable are the properties $select accepts on messages: the
// default ones plus id and those returned only when selected
// (internetMessageHeaders, uniqueBody).
var messageSelectable = append(append([]string(nil), messageProps...), "id", "internetMessageHeaders")

// selectOnlyProps are returned only when $select names them.
var selectOnlyProps = map[string]bool{"uniqueBody": true, "internetMessageHeaders": true}

// bodyProps are withheld from callers holding only Mail.ReadBasic(.All) (S30).
var bodyProps = map[string]bool{"body": true, "bodyPreview": true, "uniqueBody": true}

// mailboxFor resolves the mailbox owner of a mail request, answering the
// Outlook-style errors when it cannot. Callers hold s.mu.
func (s *Server) mailboxFor(g *graphRequest) (*user, bool) {
	u := g.p.tenant.lookupUser(g.userKey())
	if u == nil {
		writeGraphError(g.w, g.r, http.StatusNotFound, "ErrorInvalidUser", fmt.Sprintf("The requested user '%s' is invalid.", g.userKey()))
		return nil, false
	}
	if !g.p.ownsMailbox(u) {
		errMailDenied(g.w, g.r)
		return nil, false
	}
	if u.mail == "" {
		writeGraphError(g.w, g.r, http.StatusNotFound, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
		return nil, false
	}
	return u, true
}

// folderFor resolves a folder id or well-known name (S23).
func folderFor(g *graphRequest, u *user, key string) (*folder, bool) {
	if f := u.folderByKey(key); f != nil {
		return f, true
	}
	errItemNotFoundOrMalformed(g, key)
	return nil, false
}

// errItemNotFoundOrMalformed answers for an Outlook id that resolves to
// nothing: 404 ErrorItemNotFound when it is shaped like an id, else 400
// ErrorInvalidIdMalformed (what Graph says for a display name used as an id).
func errItemNotFoundOrMalformed(g *graphRequest, id string) {
	if looksLikeOutlookID(id) {
		writeGraphError(g.w, g.r, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
	} else {
		errBadRequest(g.w, g.r, "ErrorInvalidIdMalformed", "Id is malformed.")
	}
}

// selectMessageProps validates $select against the message properties.
func selectMessageProps(g *graphRequest) ([]string, bool) {
	props, bad := canonicalProps(g.q.selects, messageSelectableFor(g.beta))
	if bad != "" {
		errBadRequest(g.w, g.r, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.message'.", bad))
		return nil, false
	}
	return props, true
}

// lockMailbox takes the state lock and resolves the request's mailbox and,
// when folderKey is set, the folder. On success the lock is held and the
// caller unlocks; on failure the error is written and the lock released.
func (s *Server) lockMailbox(g *graphRequest, folderKey string) (*user, *folder, bool) {
	s.mu.Lock()
	u, ok := s.mailboxFor(g)
	if !ok {
		s.mu.Unlock()
		return nil, nil, false
	}
	if folderKey == "" {
		return u, nil, true
	}
	f, ok := folderFor(g, u, folderKey)
	if !ok {
		s.mu.Unlock()
		return nil, nil, false
	}
	return u, f, true
}

// lockMessage is lockMailbox plus the message id names, which must be in
// the folder when folderKey is set: get, update, send, delete, move/copy
// and reply all resolve a message this way. On success the lock is held
// and the caller unlocks; on failure the lock is released and the error
// (404 ErrorItemNotFound or 400 ErrorInvalidIdMalformed for the id) is
// written.
func (s *Server) lockMessage(g *graphRequest, folderKey, id string) (*user, *message, bool) {
	u, f, ok := s.lockMailbox(g, folderKey)
	if !ok {
		return nil, nil, false
	}
	m := u.messageIn(f, id)
	if m == nil {
		s.mu.Unlock()
		errItemNotFoundOrMalformed(g, id)
		return nil, nil, false
	}
	return u, m, true
}

// writeMessageEntity answers with one message: its @odata.context (with
// the $select list, if any) ahead of the entity, and Preference-Applied
// when the body was rendered as text on request. Call it after unlocking.
func writeMessageEntity(g *graphRequest, status int, props []string, entity object, preferText bool) {
	ctx := fmt.Sprintf("users('%s')/messages%s/$entity", g.userKey(), selectSuffix(props))
	body := append(object{{"@odata.context", contextURL(g.r, ctx)}}, entity...)
	if preferText {
		g.w.Header().Set("Preference-Applied", `outlook.body-content-type="text"`)
	}
	writeGraphJSON(g.w, g.r, status, body)
}

// listMessages is GET /users/{id}/messages and
// /users/{id}/mailFolders/{id}/messages: newest first, default page 10,
// $top 1-1000 (S16), $skip paging with absolute nextLinks (S15), $select
// (plus id and @odata.etag), and no bodies for Mail.ReadBasic callers. On
// /beta each message also carries mentionsPreview (graph_beta.go).
func (s *Server) listMessages(g *graphRequest, folderKey string) {
	w, r, q := g.w, g.r, g.q
	if !g.p.canReadMail() {
		errMailDenied(w, r)
		return
	}
	switch {
	case q.search != "", q.count != "":
		errNotSimulated(w, r, "$search and $count on messages")
		return
	case q.orderBy != "" && !isReceivedDesc(q.orderBy):
		errNotSimulated(w, r, "$orderby other than 'receivedDateTime desc' on messages")
		return
	}
	filter, ok := parseMessageFilter(g)
	if !ok {
		return
	}
	if filter != nil && q.orderBy != "" && !strings.EqualFold(filter.leads, "receivedDateTime") {
		// S18: every $orderby property (receivedDateTime, the only one
		// served) must lead the $filter.
		errBadRequest(w, r, "InefficientFilter", "The restriction or sort order is too complex for this operation.")
		return
	}
	withBody := g.p.has(permMailBody...)
	if filter != nil && filter.extProperty && !withBody {
		// Extended properties need Mail.Read
		// (api/singlevaluelegacyextendedproperty-get.md); S30.
		errMailDenied(w, r)
		return
	}
	expandKeys, expand, ok := parseMessageExpand(g)
	if !ok {
		return
	}
	top := messagesDefaultPage
	pageSize, sizeApplied := preferredMaxPageSize(r)
	if sizeApplied {
		top = pageSize
	}
	if q.hasTop {
		if q.top < 1 || q.top > messagesMaxPage {
			// The code is not documented; the range is (api/user-list-messages.md).
			errBadRequest(w, r, "ErrorInvalidParameter",
				fmt.Sprintf("The value '%d' of parameter 'Top' is invalid. It must be between 1 and 1000.", q.top))
			return
		}
		top = q.top
		sizeApplied = sizeApplied && pageSize < q.top
		if sizeApplied {
			top = pageSize
		}
	}
	props, ok := selectMessageProps(g)
	if !ok {
		return
	}
	bodyType, preferText := preferredBodyType(r)

	u, f, ok := s.lockMailbox(g, folderKey)
	if !ok {
		return
	}
	all := u.sortedMessages(f)
	if filter != nil {
		kept := all[:0]
		for _, m := range all {
			if filter.match(m) {
				kept = append(kept, m)
			}
		}
		all = kept
	}
	start := min(q.skip, len(all))
	end := min(start+top, len(all))
	page := make([]object, 0, end-start)
	mentions := wantsMentionsPreview(g, props)
	for _, m := range all[start:end] {
		o := messageJSON(m, props, withBody, bodyType)
		if mentions {
			o = append(o, kv{mentionsPreviewProp, g.p.tenant.mentionsPreviewJSON(u, m)})
		}
		if expand && withBody {
			o = append(o, kv{"singleValueExtendedProperties", msgExtPropsJSON(m, expandKeys)})
		}
		page = append(page, o)
	}
	more := end < len(all)
	s.mu.Unlock()

	ctx := fmt.Sprintf("users('%s')", g.userKey())
	if f != nil {
		ctx += fmt.Sprintf("/mailFolders('%s')", folderKey)
	}
	body := object{
		{"@odata.context", contextURL(r, ctx+"/messages"+selectSuffix(props))},
		{"value", page},
	}
	if more {
		body = append(body, kv{"@odata.nextLink", nextLinkURL(r, [][2]string{{"$skip", fmt.Sprint(end)}})})
	}
	var applied []string
	if sizeApplied {
		applied = append(applied, "odata.maxpagesize="+fmt.Sprint(top))
	}
	if preferText {
		applied = append(applied, `outlook.body-content-type="text"`)
	}
	if len(applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(applied, ", "))
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}

var orderByReceivedDesc = regexp.MustCompile(`(?i)^\s*receivedDateTime\s+desc\s*$`)

func isReceivedDesc(s string) bool { return orderByReceivedDesc.MatchString(s) }

// preferredBodyType reads Prefer: outlook.body-content-type="text"|"html".
// Bodies are HTML unless text is asked for.
func preferredBodyType(r *http.Request) (bodyType string, preferText bool) {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "outlook.body-content-type") &&
				strings.EqualFold(strings.Trim(strings.TrimSpace(val), `"`), "text") {
				return "text", true
			}
		}
	}
	return "html", false
}

// getMessage is GET /users/{id}/messages/{id} (optionally under a folder).
func (s *Server) getMessage(g *graphRequest, folderKey, id string) {
	w, r := g.w, g.r
	if !g.p.canReadMail() {
		errMailDenied(w, r)
		return
	}
	expandKeys, expand, ok := parseMessageExpand(g)
	if !ok {
		return
	}
	props, ok := selectMessageProps(g)
	if !ok {
		return
	}
	bodyType, preferText := preferredBodyType(r)
	u, found, ok := s.lockMessage(g, folderKey, id)
	if !ok {
		return
	}
	withBody := g.p.has(permMailBody...)
	entity := messageJSON(found, props, withBody, bodyType)
	if wantsMentionsPreview(g, props) {
		entity = append(entity, kv{mentionsPreviewProp, g.p.tenant.mentionsPreviewJSON(u, found)})
	}
	if expand && withBody {
		// Never to Mail.ReadBasic callers (S30).
		entity = append(entity, kv{"singleValueExtendedProperties", msgExtPropsJSON(found, expandKeys)})
	}
	s.mu.Unlock()
	writeMessageEntity(g, http.StatusOK, props, entity, preferText)
}

// messageJSON renders a message; props empty means all default properties.
func messageJSON(m *message, props []string, withBody bool, bodyType string) object {
	o := object{
		{"@odata.etag", `W/"` + m.changeKey() + `"`},
		{"id", m.id},
	}
	sel := map[string]bool{}
	for _, p := range props {
		sel[p] = true
	}
	for _, p := range messageSelectable {
		if p == "id" || (len(props) > 0 && !sel[p]) {
			continue
		}
		if len(props) == 0 && selectOnlyProps[p] {
			continue
		}
		if bodyProps[p] && !withBody {
			continue
		}
		o = append(o, kv{p, messageValue(m, p, bodyType)})
	}
	return o
}

func emailAddressJSON(r recipient) object {
	return object{{"emailAddress", object{{"name", r.Name}, {"address", r.Address}}}}
}

func recipientsJSON(rs []recipient) []object {
	out := make([]object, 0, len(rs))
	for _, r := range rs {
		out = append(out, emailAddressJSON(r))
	}
	return out
}

func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func messageValue(m *message, prop, bodyType string) any {
	switch prop {
	case "createdDateTime":
		return graphTime(m.createdAt)
	case "lastModifiedDateTime":
		return graphTime(m.modifiedAt)
	case "changeKey":
		return m.changeKey()
	case "categories":
		if m.categories == nil {
			return []string{}
		}
		return m.categories
	case "receivedDateTime":
		return graphTime(m.receivedAt)
	case "sentDateTime":
		return graphTime(m.sentAt)
	case "hasAttachments":
		return m.hasAttachments
	case "internetMessageId":
		return m.internetMsgID
	case "subject":
		return m.subject
	case "bodyPreview":
		return preview(m.textBody())
	case "importance":
		return m.importance
	case "parentFolderId":
		if m.folder == nil {
			return nil
		}
		return m.folder.id
	case "conversationId":
		return m.conversationID
	case "conversationIndex":
		sum := sha256.Sum256([]byte(m.conversationID))
		return base64.StdEncoding.EncodeToString(sum[:22])
	case "isDeliveryReceiptRequested":
		return m.deliveryReceipt
	case "isReadReceiptRequested":
		return false
	case "isRead":
		return m.isRead
	case "isDraft":
		return m.isDraft
	case "webLink":
		return "https://outlook.office365.com/owa/?ItemID=" + url.QueryEscape(m.id) + "&exvsurl=1&viewmodel=ReadMessageItem"
	case "inferenceClassification":
		return m.inferenceClass
	case "body", "uniqueBody":
		if bodyType == "text" {
			return object{{"contentType", "text"}, {"content", m.textBody()}}
		}
		return object{{"contentType", "html"}, {"content", m.htmlBody()}}
	case "sender", "from":
		if m.from.Address == "" {
			return nil
		}
		return emailAddressJSON(m.from)
	case "toRecipients":
		return recipientsJSON(m.to)
	case "ccRecipients":
		return recipientsJSON(m.cc)
	case "bccRecipients":
		return recipientsJSON(m.bcc)
	case "replyTo":
		return recipientsJSON(m.replyTo)
	case "flag":
		return flagJSON(m)
	case "internetMessageHeaders":
		h := []object{
			{{"name", "Message-ID"}, {"value", m.internetMsgID}},
			{{"name", "Subject"}, {"value", m.subject}},
			{{"name", "Date"}, {"value", m.sentAt.UTC().Format(time.RFC1123Z)}},
		}
		if m.from.Address != "" {
			h = append(h, object{{"name", "From"}, {"value", fmt.Sprintf("%s <%s>", m.from.Name, m.from.Address)}})
		}
		for _, x := range m.headers {
			h = append(h, object{{"name", x[0]}, {"value", x[1]}})
		}
		return h
	}
	return nil
}

var tagPattern = regexp.MustCompile(`(?s)<[^>]*>`)

func (m *message) textBody() string {
	if m.bodyType == "html" {
		return strings.TrimSpace(html.UnescapeString(tagPattern.ReplaceAllString(m.bodyContent, "")))
	}
	return m.bodyContent
}

// htmlBody renders the body the way Exchange converts text to HTML.
func (m *message) htmlBody() string {
	if m.bodyType == "html" {
		return m.bodyContent
	}
	esc := strings.ReplaceAll(html.EscapeString(m.bodyContent), "\n", "<br>\r\n")
	return "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body>" + esc + "</body></html>"
}

func preview(text string) string {
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) <= 255 {
		return text
	}
	r := []rune(text)
	return string(r[:255])
}

// sendMail is POST /users/{id}/sendMail (S24): 202 with an empty body; the
// message lands in each simulated recipient's inbox and, unless
// saveToSentItems is false, in the sender's Sent Items. Delivery is
// immediate, which real Exchange does not promise.
func (s *Server) sendMail(g *graphRequest) {
	w, r := g.w, g.r
	if !g.p.has(permMailSend...) {
		errMailDenied(w, r)
		return
	}
	raw, ok := readBody(w, r)
	if !ok {
		return
	}
	var in outgoing
	if ct := strings.ToLower(r.Header.Get("Content-Type")); strings.HasPrefix(ct, "text/plain") {
		if in, ok = parseMIMESend(w, r, raw); !ok {
			return
		}
	} else {
		body, ok := decodeJSONObject(w, r, raw)
		if !ok {
			return
		}
		if in, ok = parseJSONSend(w, r, body, g.beta); !ok {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sender, ok := s.mailboxFor(g)
	if !ok {
		return
	}
	t := g.p.tenant
	out := &message{subject: in.subject, bodyType: in.bodyType, bodyContent: in.body, importance: in.importance,
		hasAttachments: in.attachments > 0, extProps: in.extProps, mentions: t.mentionsFor(in.mentions)}
	applyOutgoing(t, out, outgoing{subject: in.subject, body: in.body, bodyType: in.bodyType, to: in.to, cc: in.cc, bcc: in.bcc})
	if !checkRecipients(w, r, out) {
		return
	}
	t.dispatch(sender, out, in.saveToSentItems)
	respondEmpty(w, r, http.StatusAccepted)
}

// outgoing is a message to send, from JSON or MIME.
type outgoing struct {
	subject, body, bodyType, importance string
	to, cc, bcc                         []string
	attachments                         int
	saveToSentItems                     bool
	extProps                            []msgExtProp // JSON message's singleValueExtendedProperties
	mentions                            []recipient  // beta's message mentions (their mentioned addresses)
}

// parseJSONSend reads sendMail's JSON body. beta: the request came in
// under /beta, where a message may carry mentions.
func parseJSONSend(w http.ResponseWriter, r *http.Request, body map[string]any, beta bool) (outgoing, bool) {
	out := outgoing{bodyType: "text", importance: "normal"}
	msg := ciObject(body, "message")
	if msg == nil {
		errBadRequest(w, r, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty.")
		return out, false
	}
	save, err := ciBool(body, "saveToSentItems", true)
	if err != nil {
		errBadRequest(w, r, "BadRequest", "Invalid value for parameter 'SaveToSentItems'.")
		return out, false
	}
	out.saveToSentItems = save
	out.subject = ciString(msg, "subject")
	if b := ciObject(msg, "body"); b != nil {
		out.body = ciString(b, "content")
		if strings.EqualFold(ciString(b, "contentType"), "html") {
			out.bodyType = "html"
		}
	}
	if imp := strings.ToLower(ciString(msg, "importance")); imp != "" {
		out.importance = imp
	}
	addrs := func(key string) []string {
		var list []string
		for _, item := range ciArray(msg, key) {
			o, _ := item.(map[string]any)
			if o == nil {
				continue
			}
			if ea := ciObject(o, "emailAddress"); ea != nil {
				list = append(list, strings.TrimSpace(ciString(ea, "address")))
			}
		}
		return list
	}
	out.to, out.cc, out.bcc = addrs("toRecipients"), addrs("ccRecipients"), addrs("bccRecipients")
	out.attachments = len(ciArray(msg, "attachments"))
	if v, ok := ciGet(msg, "singleValueExtendedProperties"); ok {
		if out.extProps, ok = parseMsgExtProps(w, r, v); !ok {
			return out, false
		}
	}
	if v, ok := ciGet(msg, "mentions"); ok {
		if out.mentions, ok = parseMentions(w, r, v, beta); !ok {
			return out, false
		}
	}
	return out, true
}

// parseMIMESend handles the MIME form of sendMail: a base64-encoded MIME
// message sent as text/plain.
func parseMIMESend(w http.ResponseWriter, r *http.Request, raw []byte) (outgoing, bool) {
	out := outgoing{bodyType: "text", importance: "normal", saveToSentItems: true}
	clean := strings.Join(strings.Fields(string(raw)), "")
	dec, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		errBadRequest(w, r, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
		return out, false
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(dec)))
	if err != nil {
		errBadRequest(w, r, "ErrorMimeContentInvalid", "The MIME content is not valid.")
		return out, false
	}
	out.subject = msg.Header.Get("Subject")
	if dec, err := new(mime.WordDecoder).DecodeHeader(out.subject); err == nil {
		out.subject = dec
	}
	list := func(h string) []string {
		as, err := msg.Header.AddressList(h)
		if err != nil {
			return nil
		}
		var outl []string
		for _, a := range as {
			outl = append(outl, a.Address)
		}
		return outl
	}
	out.to, out.cc, out.bcc = list("To"), list("Cc"), list("Bcc")
	b, err := io.ReadAll(io.LimitReader(msg.Body, maxRequestBody))
	if err != nil {
		errBadRequest(w, r, "ErrorMimeContentInvalid", "The MIME content is not valid.")
		return out, false
	}
	out.body = string(b)
	return out, true
}
