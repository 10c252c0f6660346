package graphsim

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Single-value extended properties on messages and the message $filter and
// $expand forms the simulator evaluates
// (api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties.md,
// api/singlevaluelegacyextendedproperty-get.md,
// resources/extended-properties-overview.md).
//
// An extended property id is "{type} {proptag}" (e.g. "String 0x0037") or
// "{type} {guid} Name {name}" / "{type} {guid} Id {id}". The type, the GUID,
// the Name/Id keyword and a numeric tag compare case-insensitively; the
// string name is case-sensitive, as the get page says ("Filtering the string
// name (Name) in the id of an extended property is case-sensitive.
// Filtering the value property of an extended property is
// case-insensitive."). Creating or updating a message never returns its
// extended properties; only $expand=singleValueExtendedProperties($filter=id
// eq '...') does, and never to a caller holding only Mail.ReadBasic(.All)
// (S30).

// msgExtProp is a single-value extended property as stored on a message.
type msgExtProp struct {
	id    string // as the client wrote it (whitespace normalized)
	key   string // comparison key, see msgExtPropKey
	value string
}

// msgExtPropTypes are the single-value property types of
// resources/extended-properties-overview.md.
var msgExtPropTypes = map[string]string{
	"applicationtime": "ApplicationTime", "binary": "Binary", "boolean": "Boolean", "clsid": "CLSID",
	"currency": "Currency", "double": "Double", "float": "Float", "integer": "Integer", "long": "Long",
	"object": "Object", "short": "Short", "string": "String", "systemtime": "SystemTime",
}

var (
	msgExtPropTag   = regexp.MustCompile(`^0[xX][0-9a-fA-F]{1,8}$`)
	msgExtPropGUID  = regexp.MustCompile(`^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$`)
	msgExtPropSpace = regexp.MustCompile(`\s+`)
)

// msgExtPropKey parses an extended property id and returns its comparison key
// and its type's canonical name.
func msgExtPropKey(id string) (key, typ string, ok bool) {
	f := strings.Fields(id)
	if len(f) < 2 {
		return "", "", false
	}
	typ, ok = msgExtPropTypes[strings.ToLower(f[0])]
	if !ok {
		return "", "", false
	}
	lt := strings.ToLower(typ)
	switch {
	case len(f) == 2 && msgExtPropTag.MatchString(f[1]):
		n, _ := strconv.ParseUint(f[1][2:], 16, 32)
		return fmt.Sprintf("%s tag %x", lt, n), typ, true
	case len(f) >= 4 && msgExtPropGUID.MatchString(f[1]) && strings.EqualFold(f[2], "Name"):
		guid := strings.ToLower(strings.Trim(f[1], "{}"))
		// The name is everything after "Name ", case-sensitive.
		name := strings.Join(f[3:], " ")
		return lt + " {" + guid + "} name " + name, typ, true
	case len(f) == 4 && msgExtPropGUID.MatchString(f[1]) && strings.EqualFold(f[2], "Id") && msgExtPropTag.MatchString(f[3]):
		guid := strings.ToLower(strings.Trim(f[1], "{}"))
		n, _ := strconv.ParseUint(f[3][2:], 16, 32)
		return fmt.Sprintf("%s {%s} id %x", lt, guid, n), typ, true
	}
	return "", "", false
}

// parseMsgExtProps reads a singleValueExtendedProperties array. On failure the
// error has been written.
func parseMsgExtProps(w http.ResponseWriter, r *http.Request, v any) ([]msgExtProp, bool) {
	arr, ok := v.([]any)
	if !ok && v != nil {
		errBadRequest(w, r, "ErrorInvalidRequest", "Invalid value for property 'singleValueExtendedProperties'.") // [unv]
		return nil, false
	}
	var out []msgExtProp
	for _, item := range arr {
		o, _ := item.(map[string]any)
		id := strings.TrimSpace(msgExtPropSpace.ReplaceAllString(ciString(o, "id"), " "))
		key, typ, ok := msgExtPropKey(id)
		if !ok {
			// EWS's code for an invalid property identification [unv for Graph].
			errBadRequest(w, r, "ErrorInvalidExtendedProperty", fmt.Sprintf("The extended property attribute combination is invalid: '%s'.", id))
			return nil, false
		}
		raw, has := ciGet(o, "value")
		val, isStr := raw.(string)
		if !has || !isStr || !msgExtPropValueValid(typ, val) {
			errBadRequest(w, r, "ErrorInvalidExtendedPropertyValue", fmt.Sprintf("The extended property value is invalid for property '%s'.", id)) // [unv]
			return nil, false
		}
		out = mergeMsgExtProps(out, []msgExtProp{{id: id, key: key, value: val}})
	}
	return out, true
}

func msgExtPropValueValid(typ, v string) bool {
	var err error
	switch typ {
	case "Integer", "Short":
		_, err = strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	case "Long", "Currency":
		_, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	case "Double", "Float", "ApplicationTime":
		_, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
	case "Boolean":
		_, err = strconv.ParseBool(strings.TrimSpace(v))
	case "SystemTime":
		_, err = time.Parse(time.RFC3339, strings.TrimSpace(v))
	case "CLSID":
		if !msgExtPropGUID.MatchString(strings.TrimSpace(v)) {
			return false
		}
	}
	return err == nil
}

// mergeMsgExtProps sets each of add on props: a property with the same id is
// replaced (PATCH updates its value), others are appended.
func mergeMsgExtProps(props, add []msgExtProp) []msgExtProp {
	out := append([]msgExtProp(nil), props...)
	for _, a := range add {
		replaced := false
		for i := range out {
			if out[i].key == a.key {
				out[i], replaced = a, true
			}
		}
		if !replaced {
			out = append(out, a)
		}
	}
	return out
}

// messageFilter is a parsed message $filter.
type messageFilter struct {
	match       func(m *message) bool
	extProperty bool   // filters on extended properties: needs Mail.Read
	leads       string // the property the filter starts with, for $orderby (S18)
}

var (
	msgAnyFilter     = regexp.MustCompile(`(?is)^\s*singleValueExtendedProperties\s*/\s*any\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)\)\s*$`)
	msgQuotedLiteral = `'((?:[^']|'')*)'`
)

func unquoteODataLiteral(s string) string { return strings.ReplaceAll(s, "''", "'") }

// parseMessageFilter parses the $filter forms evaluated on message lists:
//
//	singleValueExtendedProperties/any(ep: ep/id eq '{id}' [and ep/value eq|ne '{v}' | and contains(ep/value,'{v}') | and startswith(ep/value,'{v}')])
//	internetMessageId eq '{v}'
//	conversationId eq '{v}'
//	<clause> [and <clause>]... with each clause one of
//	    receivedDateTime eq|ne|gt|ge|lt|le <DateTimeOffset, unquoted>
//	    mentionsPreview/isMentioned eq|ne true|false   (beta only)
//
// A property the message type lacks (mentionsPreview on v1.0, a typo)
// answers 400 as Graph does; anything else not listed answers 501. ok
// false means the error has been written.
func parseMessageFilter(g *graphRequest) (*messageFilter, bool) {
	expr := strings.TrimSpace(g.q.filter)
	if expr == "" {
		return nil, true
	}
	if bad := unknownFilterProperty(expr, messageFilterRoots(g.beta)); bad != "" {
		// [obs wslyvh/paperweight#1] 400 {"code":"RequestBroker--ParseUri",
		// "message":"Could not find a property named 'isJunk' on type
		// 'microsoft.graph.message'."} for a $filter on a missing property.
		errBadRequest(g.w, g.r, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.message'.", bad))
		return nil, false
	}
	if m := msgAnyFilter.FindStringSubmatch(expr); m != nil {
		if f, ok := parseMsgExtPropAny(m[1], m[2]); ok {
			f.leads = "singleValueExtendedProperties"
			return f, true
		}
	} else if sf, ok := parseSimpleFilter(expr); ok && sf.op == "eq" && sf.kind == 's' {
		switch {
		case strings.EqualFold(sf.prop, "internetMessageId"):
			return &messageFilter{leads: "internetMessageId", match: func(m *message) bool { return sf.match(m.internetMsgID) }}, true
		case strings.EqualFold(sf.prop, "conversationId"):
			return &messageFilter{leads: "conversationId", match: func(m *message) bool { return sf.match(m.conversationID) }}, true
		}
	}
	if f, handled, ok := parseMessageClauses(g, expr); handled {
		return f, ok
	}
	errNotSimulated(g.w, g.r, fmt.Sprintf("$filter '%s' on messages (only singleValueExtendedProperties/any(...), internetMessageId eq, conversationId eq, receivedDateTime comparisons and, on beta, mentionsPreview/isMentioned eq, joined by and)", expr))
	return nil, false
}

// messageFilterRoots are the names a message $filter may start a property
// path with: the properties and navigation properties of the message type
// on the request's API version.
func messageFilterRoots(beta bool) []string {
	roots := append([]string(nil), messageSelectableFor(beta)...)
	roots = append(roots, "singleValueExtendedProperties", "multiValueExtendedProperties", "attachments", "extensions")
	if beta {
		roots = append(roots, betaMessageNavProps...)
	}
	return roots
}

var (
	msgMentionedClause = regexp.MustCompile(`(?i)^mentionsPreview\s*/\s*isMentioned\s+(eq|ne)\s+(true|false)$`)
	msgReceivedClause  = regexp.MustCompile(`(?i)^receivedDateTime\s+(eq|ne|gt|ge|lt|le)\s+(\S+)$`)
)

// odataOperatorKinds name the comparison operators as OData's errors do.
var odataOperatorKinds = map[string]string{
	"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan", "le": "LessThanOrEqual",
}

// parseMessageClauses parses a conjunction of receivedDateTime and
// mentionsPreview/isMentioned clauses. handled is false when expr is not
// one (the caller answers 501); ok false means an error has been written.
func parseMessageClauses(g *graphRequest, expr string) (f *messageFilter, handled, ok bool) {
	var preds []func(m *message) bool
	leads := ""
	for i, clause := range splitFilterAnd(expr) {
		clause = strings.TrimSpace(clause)
		if c := msgMentionedClause.FindStringSubmatch(clause); c != nil && g.beta {
			lit, ne := strings.EqualFold(c[2], "true"), strings.EqualFold(c[1], "ne")
			owner := g.userKey()
			t := g.p.tenant
			// Evaluated under s.mu (listMessages holds it while filtering).
			// Without mentions mentionsPreview is null, and null eq a
			// boolean is false, null ne a boolean true (OData).
			preds = append(preds, func(m *message) bool {
				u := t.lookupUser(owner)
				if u == nil || len(m.mentions) == 0 {
					return ne
				}
				return (t.isMentioned(u, m) == lit) != ne
			})
			if i == 0 {
				leads = "mentionsPreview"
			}
			continue
		}
		c := msgReceivedClause.FindStringSubmatch(clause)
		if c == nil {
			return nil, false, false
		}
		lit := c[2]
		if strings.HasPrefix(lit, "'") {
			// A quoted literal is an Edm.String, which OData will not
			// compare with a DateTimeOffset [unv: Graph's exact words].
			errBadRequest(g.w, g.r, "BadRequest", fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind '%s'.", odataOperatorKinds[strings.ToLower(c[1])]))
			return nil, true, false
		}
		at, err := time.Parse(time.RFC3339Nano, lit)
		if err != nil {
			errBadRequest(g.w, g.r, "BadRequest", fmt.Sprintf("The DateTimeOffset literal '%s' in $filter is not valid.", lit)) // [unv]
			return nil, true, false
		}
		sf := simpleFilter{op: strings.ToLower(c[1])}
		preds = append(preds, func(m *message) bool { return sf.compare(m.receivedAt.Compare(at)) })
		if i == 0 {
			leads = "receivedDateTime"
		}
	}
	return &messageFilter{leads: leads, match: func(m *message) bool {
		for _, p := range preds {
			if !p(m) {
				return false
			}
		}
		return true
	}}, true, true
}

// splitFilterAnd splits a filter on top-level " and " (outside quotes and
// parentheses), case-insensitively.
func splitFilterAnd(s string) []string { return splitFilterTop(s, "and") }

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// unknownFilterProperty returns the first property a $filter names that is
// not among known (compared case-insensitively), or "". It looks at the
// start of each and/or clause: a property path (its first segment) or the
// first argument of contains/startswith/endswith. Type casts (names with
// dots), lambdas' range variables and other functions are left to the
// caller's parser.
func unknownFilterProperty(expr string, known []string) string {
	for _, clause := range splitFilterBool(expr) {
		c := strings.TrimSpace(clause)
		for {
			lc := strings.ToLower(c)
			switch {
			case strings.HasPrefix(c, "("):
				c = strings.TrimSpace(c[1:])
				continue
			case strings.HasPrefix(lc, "not ") || strings.HasPrefix(lc, "not("):
				c = strings.TrimSpace(c[3:])
				continue
			}
			break
		}
		name := leadingIdent(c)
		rest := strings.TrimSpace(c[len(name):])
		if strings.HasPrefix(rest, "(") {
			switch strings.ToLower(name) {
			case "contains", "startswith", "endswith":
				arg := strings.TrimSpace(rest[1:])
				name = leadingIdent(arg)
				rest = strings.TrimSpace(arg[len(name):])
			default:
				continue
			}
		}
		if name == "" || strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "(") {
			continue
		}
		found := false
		for _, k := range known {
			if strings.EqualFold(k, name) {
				found = true
				break
			}
		}
		if !found {
			return name
		}
	}
	return ""
}

func leadingIdent(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return s[:i]
	}
	return s
}

// splitFilterBool splits a filter on top-level " and " and " or ".
func splitFilterBool(s string) []string {
	var out []string
	for _, part := range splitFilterAnd(s) {
		out = append(out, splitFilterOrTop(part)...)
	}
	return out
}

// splitFilterOrTop splits on top-level " or " (outside quotes and
// parentheses).
func splitFilterOrTop(s string) []string { return splitFilterTop(s, "or") }

// splitFilterTop splits s on the top-level (outside quotes and
// parentheses) logical operator op, surrounded by spaces, in any case.
func splitFilterTop(s, op string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	low := strings.ToLower(s)
	n := len(op)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && isSpace(c) && i+n+2 <= len(s) && low[i+1:i+1+n] == op && isSpace(s[i+1+n]):
			out = append(out, s[start:i])
			start = i + n + 2
			i += n + 1
		}
	}
	return append(out, s[start:])
}

// parseMsgExtPropAny parses the lambda body of singleValueExtendedProperties/any(v: ...).
func parseMsgExtPropAny(v, body string) (*messageFilter, bool) {
	qv := regexp.QuoteMeta(v)
	idRe := regexp.MustCompile(`(?is)^` + qv + `\s*/\s*id\s+eq\s+` + msgQuotedLiteral + `\s*(.*)$`)
	m := idRe.FindStringSubmatch(strings.TrimSpace(body))
	if m == nil {
		return nil, false
	}
	key, _, ok := msgExtPropKey(msgExtPropSpace.ReplaceAllString(unquoteODataLiteral(m[1]), " "))
	if !ok {
		return nil, false
	}
	valueMatch := func(string) bool { return true }
	if rest := strings.TrimSpace(m[2]); rest != "" {
		cmpRe := regexp.MustCompile(`(?is)^and\s+` + qv + `\s*/\s*value\s+(eq|ne)\s+` + msgQuotedLiteral + `$`)
		fnRe := regexp.MustCompile(`(?is)^and\s+(contains|startswith)\s*\(\s*` + qv + `\s*/\s*value\s*,\s*` + msgQuotedLiteral + `\s*\)$`)
		switch c, fn := cmpRe.FindStringSubmatch(rest), fnRe.FindStringSubmatch(rest); {
		case c != nil:
			want, ne := strings.ToLower(unquoteODataLiteral(c[2])), strings.EqualFold(c[1], "ne")
			valueMatch = func(s string) bool { return (strings.ToLower(s) == want) != ne }
		case fn != nil:
			want, contains := strings.ToLower(unquoteODataLiteral(fn[2])), strings.EqualFold(fn[1], "contains")
			valueMatch = func(s string) bool {
				if contains {
					return strings.Contains(strings.ToLower(s), want)
				}
				return strings.HasPrefix(strings.ToLower(s), want)
			}
		default:
			return nil, false
		}
	}
	return &messageFilter{extProperty: true, match: func(msg *message) bool {
		for _, p := range msg.extProps {
			if p.key == key && valueMatch(p.value) {
				return true
			}
		}
		return false
	}}, true
}

var msgExpandIDFilter = regexp.MustCompile(`(?is)^\s*id\s+eq\s+` + msgQuotedLiteral + `\s*$`)

// parseMessageExpand parses $expand=singleValueExtendedProperties($filter=id
// eq '{id}' [or id eq '{id}']...) and returns the comparison keys to expand
// (expand false without $expand). Other expansions answer 501.
func parseMessageExpand(g *graphRequest) (keys []string, expand, ok bool) {
	if g.q.expand == "" {
		return nil, false, true
	}
	for _, it := range g.q.expandItems {
		if !strings.EqualFold(it.name, "singleValueExtendedProperties") {
			errNotSimulated(g.w, g.r, fmt.Sprintf("$expand=%s on messages", it.name))
			return nil, false, false
		}
		f, has := it.options["$filter"]
		if !has || len(it.options) != 1 {
			errNotSimulated(g.w, g.r, "$expand=singleValueExtendedProperties without a single $filter=id eq '...'")
			return nil, false, false
		}
		for _, part := range splitFilterOr(f) {
			m := msgExpandIDFilter.FindStringSubmatch(part)
			if m == nil {
				errNotSimulated(g.w, g.r, fmt.Sprintf("$filter '%s' inside $expand=singleValueExtendedProperties (only id eq '...')", f))
				return nil, false, false
			}
			key, _, valid := msgExtPropKey(msgExtPropSpace.ReplaceAllString(unquoteODataLiteral(m[1]), " "))
			if !valid {
				errBadRequest(g.w, g.r, "ErrorInvalidExtendedProperty", fmt.Sprintf("The extended property attribute combination is invalid: '%s'.", unquoteODataLiteral(m[1]))) // [unv]
				return nil, false, false
			}
			keys = append(keys, key)
		}
	}
	return keys, true, true
}

// splitFilterOr splits a filter on top-level " or " (outside quotes).
func splitFilterOr(s string) []string {
	var out []string
	quoted, start := false, 0
	low := strings.ToLower(s)
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			quoted = !quoted
		case !quoted && strings.HasPrefix(low[i:], " or "):
			out = append(out, s[start:i])
			start = i + 4
			i += 3
		}
	}
	return append(out, s[start:])
}

// msgExtPropsJSON renders the message's extended properties whose keys are
// listed, as $expand returns them.
func msgExtPropsJSON(m *message, keys []string) []object {
	out := []object{}
	for _, p := range m.extProps {
		for _, k := range keys {
			if p.key == k {
				out = append(out, object{{"id", p.id}, {"value", p.value}})
				break
			}
		}
	}
	return out
}
