package graphsim

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// OData query parsing shared by every Graph handler: the system query
// options ($select, $top, ...), custom parameters (includeHiddenFolders,
// startDateTime, changeType, ...), nested $expand options and the small
// $filter forms the simulator evaluates.

// parseRawQuery splits a query string on '&' only. url.ParseQuery also
// refuses a raw ';', which OData uses inside nested options such as
// $expand=manager($levels=max;$select=id), so it cannot be used here.
func parseRawQuery(raw string) ([][2]string, bool) {
	var out [][2]string
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		out = append(out, [2]string{dk, dv})
	}
	return out, true
}

// queryParam returns a custom (non-$) query parameter, matched
// case-insensitively, and whether it was present.
func (q odataQuery) param(name string) (string, bool) {
	v, ok := q.custom[strings.ToLower(name)]
	return v, ok
}

// pageTop is a collection's page size: $top when given (1 to 1000, else
// 400 ErrorInvalidParameter), else the default of 10. Contacts, contact
// folders, events and calendarView page alike; messages (which also weigh
// Prefer: odata.maxpagesize) and mailFolders check $top themselves.
func pageTop(g *graphRequest) (int, bool) {
	q := g.q
	if !q.hasTop {
		return messagesDefaultPage, true
	}
	if q.top < 1 || q.top > messagesMaxPage {
		errBadRequest(g.w, g.r, "ErrorInvalidParameter", fmt.Sprintf("The value '%d' of parameter 'Top' is invalid. It must be between 1 and 1000.", q.top))
		return 0, false
	}
	return q.top, true
}

// splitTopLevel splits s on sep outside parentheses and single quotes.
func splitTopLevel(s string, sep byte) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// expandItem is one $expand entry: a navigation property and its nested
// options, e.g. manager($levels=max;$select=id,displayName).
type expandItem struct {
	name    string
	options map[string]string // lower-case option name ("$select", "$levels") -> value
}

// parseExpand parses a $expand value. Nested options are separated by ';'.
func parseExpand(v string) ([]expandItem, error) {
	var items []expandItem
	for _, part := range splitTopLevel(v, ',') {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		it := expandItem{options: map[string]string{}}
		name, rest, hasOpts := strings.Cut(part, "(")
		it.name = strings.TrimSpace(name)
		if hasOpts {
			if !strings.HasSuffix(rest, ")") {
				return nil, fmt.Errorf("unbalanced parentheses in $expand item '%s'", part)
			}
			rest = strings.TrimSuffix(rest, ")")
			for _, opt := range splitTopLevel(rest, ';') {
				opt = strings.TrimSpace(opt)
				if opt == "" {
					continue
				}
				k, val, ok := strings.Cut(opt, "=")
				if !ok {
					return nil, fmt.Errorf("invalid nested option '%s'", opt)
				}
				it.options[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(val)
			}
		}
		if it.name == "" {
			return nil, fmt.Errorf("empty $expand item")
		}
		items = append(items, it)
	}
	return items, nil
}

// splitSelect splits a $select value into trimmed, non-empty names.
func splitSelect(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// simpleFilter is the one $filter shape the simulator evaluates where it
// supports filtering: "<property> <op> <literal>", with op one of eq, ne,
// gt, ge, lt, le and literal a quoted string, a number, true, false or null.
type simpleFilter struct {
	prop string
	op   string
	str  string // literal for strings
	num  float64
	kind byte // 's' string, 'n' number, 'b' bool, 'z' null
	b    bool
}

// parseSimpleFilter parses a simpleFilter; ok is false for anything else
// (which callers answer with 501, never by ignoring the filter).
func parseSimpleFilter(v string) (simpleFilter, bool) {
	var f simpleFilter
	fields := strings.Fields(strings.TrimSpace(v))
	if len(fields) < 3 {
		return f, false
	}
	f.prop, f.op = fields[0], strings.ToLower(fields[1])
	switch f.op {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return f, false
	}
	lit := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), fields[0]))
	lit = strings.TrimSpace(lit[len(fields[1]):])
	switch {
	case len(lit) >= 2 && lit[0] == '\'' && lit[len(lit)-1] == '\'':
		inner := lit[1 : len(lit)-1]
		if strings.Contains(strings.ReplaceAll(inner, "''", ""), "'") {
			return f, false
		}
		f.kind, f.str = 's', strings.ReplaceAll(inner, "''", "'")
	case lit == "true" || lit == "false":
		f.kind, f.b = 'b', lit == "true"
	case lit == "null":
		f.kind = 'z'
	default:
		n, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			return f, false
		}
		f.kind, f.num = 'n', n
	}
	return f, true
}

// match evaluates the filter against a property value (string, bool, int
// or nil). Strings compare case-insensitively, as directory and Exchange
// string comparisons do.
func (f simpleFilter) match(v any) bool {
	cmp := f.compare
	switch x := v.(type) {
	case nil:
		return f.kind == 'z' && f.op == "eq" || f.kind != 'z' && f.op == "ne"
	case string:
		if f.kind == 'z' {
			return f.op == "ne"
		}
		if f.kind != 's' {
			return false
		}
		return cmp(strings.Compare(strings.ToLower(x), strings.ToLower(f.str)))
	case bool:
		if f.kind != 'b' || (f.op != "eq" && f.op != "ne") {
			return false
		}
		return (x == f.b) == (f.op == "eq")
	case int:
		if f.kind != 'n' {
			return false
		}
		switch {
		case float64(x) < f.num:
			return cmp(-1)
		case float64(x) > f.num:
			return cmp(1)
		}
		return cmp(0)
	}
	return false
}

// compare applies the filter's operator to a comparison result (negative:
// the value is less than the literal, 0 equal, positive greater).
func (f simpleFilter) compare(c int) bool {
	switch f.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	}
	return c <= 0
}

// orderBy is a single-key $orderby: "<property> [asc|desc]".
type orderBy struct {
	prop string
	desc bool
}

func parseOrderBy(v string) (orderBy, bool) {
	fields := strings.Fields(v)
	if strings.Contains(v, ",") {
		return orderBy{}, false
	}
	switch {
	case len(fields) == 1:
		return orderBy{prop: fields[0]}, true
	case len(fields) == 2 && strings.EqualFold(fields[1], "asc"):
		return orderBy{prop: fields[0]}, true
	case len(fields) == 2 && strings.EqualFold(fields[1], "desc"):
		return orderBy{prop: fields[0], desc: true}, true
	}
	return orderBy{}, false
}
