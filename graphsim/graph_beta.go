package graphsim

import (
	"fmt"
	"net/http"
	"strings"
)

// Graph beta: only the @-mention reads and writes on messages, which Graph
// documents on the beta endpoint alone (microsoft-graph-docs-contrib,
// api-reference/beta/resources/mention.md, mentionspreview.md, message.md,
// api/user-list-messages.md "Request 2", api/user-sendmail.md "Example 2"):
//
//	GET  /beta/users/{id|upn}/messages                      list, as on v1.0, plus mentionsPreview
//	GET  /beta/users/{id|upn}/mailFolders/{id}/messages     the same for one folder
//	GET  /beta/users/{id|upn}/messages/{id}                 one message, plus mentionsPreview
//	POST /beta/users/{id|upn}/sendMail                      sendMail whose message may carry mentions
//
// mentionsPreview is {"isMentioned": bool}: "True if the signed-in user is
// mentioned in the parent resource instance. Read-only. Supports filter."
// message.md: "When processing a GET /messages request, the server sets
// this property and includes it in the response by default. The server
// returns null if there are no mentions in the message." The "signed-in
// user" of an app-only request to /users/{id}/messages is read as the
// mailbox's owner [unv: the docs only show /me]. It is not a body
// property, so Mail.ReadBasic(.All) callers get it too [unv].
//
// Lists take $filter=mentionsPreview/isMentioned eq true|false, alone or
// joined by "and" with receivedDateTime comparisons (message_query.go), and
// $select=mentionsPreview; permissions, paging and the other options are
// v1.0's (graph_mail.go). On /v1.0, mentionsPreview and mentions are not
// message properties: $select and $filter naming them give 400
// RequestBroker--ParseUri, and a sendMail body with mentions 400
// RequestBodyRead, as for any property the type lacks. Every other beta
// route answers 501: the simulator does not serve beta's shapes there.

// routeBeta routes a /beta request.
func (s *Server) routeBeta(g *graphRequest) {
	segs := g.segs
	n := len(segs)
	if n < 3 || !strings.EqualFold(segs[0], "users") || strings.HasPrefix(segs[1], "$") {
		errNotSimulated(g.w, g.r, "/beta"+graphRoute(segs))
		return
	}
	sub := strings.ToLower(segs[2])
	switch {
	case sub == "messages" && n == 3:
		if g.method(http.MethodGet) {
			s.listMessages(g, "")
		}
	case sub == "messages" && n == 4 && !isDelta(segs[3]):
		if g.method(http.MethodGet) {
			s.getMessage(g, "", segs[3])
		}
	case sub == "mailfolders" && n == 5 && strings.EqualFold(segs[4], "messages"):
		if g.method(http.MethodGet) {
			s.listMessages(g, segs[3])
		}
	case sub == "sendmail" && n == 3:
		if g.method(http.MethodPost) {
			s.sendMail(g)
		}
	default:
		errNotSimulated(g.w, g.r, "/beta"+graphRoute(segs))
	}
}

// Beta-only message properties and navigation properties.
const mentionsPreviewProp = "mentionsPreview"

var betaMessageNavProps = []string{"mentions"}

// messageSelectableFor is what $select accepts on messages: v1.0's
// properties, plus mentionsPreview on beta.
func messageSelectableFor(beta bool) []string {
	if !beta {
		return messageSelectable
	}
	return append(append([]string(nil), messageSelectable...), mentionsPreviewProp)
}

// wantsMentionsPreview: beta returns mentionsPreview by default and when
// $select names it.
func wantsMentionsPreview(g *graphRequest, props []string) bool {
	if !g.beta {
		return false
	}
	if len(props) == 0 {
		return true
	}
	for _, p := range props {
		if p == mentionsPreviewProp {
			return true
		}
	}
	return false
}

// mentionsPreviewJSON is the message's mentionsPreview as owner's mailbox
// serves it: null without mentions, else whether owner is among them.
func (t *tenant) mentionsPreviewJSON(owner *user, m *message) any {
	if len(m.mentions) == 0 {
		return nil
	}
	return object{{"isMentioned", t.isMentioned(owner, m)}}
}

// isMentioned: one of the message's mentions names owner, by mail, UPN or
// another address of theirs the tenant knows.
func (t *tenant) isMentioned(owner *user, m *message) bool {
	for _, r := range m.mentions {
		a := strings.TrimSpace(r.Address)
		if strings.EqualFold(a, owner.mail) || strings.EqualFold(a, owner.upn) || t.userByAddress(a) == owner {
			return true
		}
	}
	return false
}

// mentionsFor names mentioned people the way Exchange does: the given name,
// else the directory's display name, else the address.
func (t *tenant) mentionsFor(rs []recipient) []recipient {
	out := make([]recipient, 0, len(rs))
	for _, r := range rs {
		if r.Name == "" {
			r.Name = t.recipientFor(r.Address).Name
		}
		out = append(out, r)
	}
	return out
}

// parseMentions reads a message's mentions collection (beta): each item
// must carry mentioned.address (api/user-sendmail.md: "For each mention in
// the mentions property, you must specify the mentioned property"). On
// v1.0 the message type has no such property.
func parseMentions(w http.ResponseWriter, r *http.Request, v any, beta bool) ([]recipient, bool) {
	if !beta {
		errBadRequest(w, r, "RequestBodyRead", "The property 'mentions' does not exist on type 'microsoft.graph.message'. Make sure to only use property names that are defined by the type or mark the type as open type.")
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok && v != nil {
		errBadRequest(w, r, "RequestBodyRead", "Invalid value for property 'mentions': a collection of microsoft.graph.mention is expected.") // [unv]
		return nil, false
	}
	var out []recipient
	for i, item := range arr {
		o, _ := item.(map[string]any)
		who := ciObject(o, "mentioned")
		addr := strings.TrimSpace(ciString(who, "address"))
		if addr == "" {
			// The code and message are not documented [unv].
			errBadRequest(w, r, "ErrorInvalidParameter", fmt.Sprintf("Mention %d has no mentioned address; each mention must specify the mentioned property.", i))
			return nil, false
		}
		out = append(out, recipient{Name: strings.TrimSpace(ciString(who, "name")), Address: addr})
	}
	return out, true
}
