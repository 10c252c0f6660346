package recipe

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parser decodes one recipe file from its yaml.Node tree, collecting
// diagnostics as it goes rather than stopping at the first.
type parser struct {
	file  string
	lines []string
	diags []Diagnostic
	opts  Options
	grant *Grant

	kind TriggerKind
	// runHasMailbox is whether each run has a mailbox (from mailboxes or
	// the shared mailbox), which actions default to.
	runHasMailbox bool
	// seen are the steps parsed so far (document order) that expressions
	// may refer to; allIDs are every step ID in the file.
	seen     []stepOutput
	allIDs   map[string]bool
	actionOf map[string]string
	idPos    map[string]Pos
}

func (p *parser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line, Col: n.Column} }

func (p *parser) errf(n *yaml.Node, format string, args ...any) {
	p.errAt(p.pos(n), format, args...)
}

func (p *parser) errAt(pos Pos, format string, args ...any) {
	p.diags = append(p.diags, Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// field is one key of a mapping, in file order.
type field struct {
	key  string
	kn   *yaml.Node
	node *yaml.Node
}

// fields returns the keys of a mapping node. Keys not in known are
// reported as unknown (with the nearest known key suggested) and dropped;
// duplicates are reported. where names the mapping in messages ("trigger
// newMail"). known nil accepts every key.
func (p *parser) fields(n *yaml.Node, where string, known []string) []field {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s must be a mapping of fields, not %s; write one field per line as key: value", where, describe(n))
		return nil
	}
	var out []field
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if prev, dup := first[k.Value]; dup {
			p.errf(k, "field %q appears twice in %s (first at %d:%d); keep one", k.Value, where, prev.Line, prev.Column)
			continue
		}
		first[k.Value] = k
		if known != nil && !contains(known, k.Value) {
			p.errf(k, "unknown field %q in %s; %s", k.Value, where, didYouMean(k.Value, known))
			continue
		}
		out = append(out, field{key: k.Value, kn: k, node: v})
	}
	return out
}

// resolve follows YAML aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names a node's kind for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return strconv.Quote(n.Value)
	}
	return "this"
}

// str reads a scalar as text. Numbers and booleans are accepted as their
// text ("subject: 2024" is a subject).
func (p *parser) str(f field, where string) (string, bool) {
	n := f.node
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.errf(n, "%q in %s must be text, not %s", f.key, where, describe(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) nonEmpty(f field, where string) (string, bool) {
	s, ok := p.str(f, where)
	if ok && strings.TrimSpace(s) == "" {
		p.errf(f.node, "%q in %s is empty; give it a value or remove the field", f.key, where)
		return "", false
	}
	return s, ok
}

func (p *parser) boolean(f field, where string) (bool, bool) {
	n := f.node
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		fix := ""
		if n.Kind == yaml.ScalarNode && (n.Value == "true" || n.Value == "false") {
			fix = "; remove the quotes"
		}
		p.errf(n, "%q in %s must be true or false, not %s%s", f.key, where, describe(n), fix)
		return false, false
	}
	return n.Value == "true", true
}

func (p *parser) integer(f field, where string) (int, bool) {
	n := f.node
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
		p.errf(n, "%q in %s must be a whole number, not %s", f.key, where, describe(n))
		return 0, false
	}
	return v, true
}

func (p *parser) enum(f field, where string, values []string) (string, bool) {
	s, ok := p.str(f, where)
	if !ok {
		return "", false
	}
	if !contains(values, s) {
		fix := "use one of " + strings.Join(values, ", ")
		if n := nearest(s, values); n != "" {
			fix = fmt.Sprintf("did you mean %q? (one of %s)", n, strings.Join(values, ", "))
		}
		p.errf(f.node, "bad value %q for %q in %s; %s", s, f.key, where, fix)
		return "", false
	}
	return s, true
}

func (p *parser) duration(f field, where string) (int64, bool) {
	s, ok := p.str(f, where)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(s)
	if err != nil || d <= 0 {
		p.errf(f.node, "bad duration %q for %q in %s; write it like 90s, 15m, 2h or 2d", s, f.key, where)
		return 0, false
	}
	return int64(d), true
}

// strs reads one scalar or a list of scalars.
func (p *parser) strs(f field, where string) ([]*yaml.Node, bool) {
	n := f.node
	switch {
	case n.Kind == yaml.ScalarNode && !isNull(n):
		return []*yaml.Node{n}, true
	case n.Kind == yaml.SequenceNode:
		var out []*yaml.Node
		ok := true
		for _, e := range n.Content {
			e = resolve(e)
			if e.Kind != yaml.ScalarNode || isNull(e) {
				p.errf(e, "each entry of %q in %s must be text, not %s", f.key, where, describe(e))
				ok = false
				continue
			}
			out = append(out, e)
		}
		if ok && len(out) == 0 {
			p.errf(n, "%q in %s is an empty list; list at least one value or remove the field", f.key, where)
			return nil, false
		}
		return out, ok
	}
	p.errf(n, "%q in %s must be text or a list of text, not %s", f.key, where, describe(n))
	return nil, false
}

func values(ns []*yaml.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Value
	}
	return out
}

// offsetPos maps a rune offset inside a scalar's value to the file
// position of that character. Literal blocks (|) keep lines as written;
// folded blocks (>) and multi-line flow scalars join lines with one
// character, which is how the mapping walks them. Escapes in quoted
// scalars shift columns; the position is then approximate.
func (p *parser) offsetPos(n *yaml.Node, off int) Pos {
	r := []rune(n.Value)
	off = max(0, min(off, len(r)))
	if n.Style == yaml.LiteralStyle {
		line0, col0 := 0, 0
		for _, c := range r[:off] {
			if c == '\n' {
				line0++
				col0 = 0
			} else {
				col0++
			}
		}
		return Pos{File: p.file, Line: n.Line + 1 + line0, Col: p.blockIndent(n.Line) + 1 + col0}
	}
	// Segments: the source text of each line of the scalar.
	line, col := n.Line, n.Column
	switch n.Style {
	case yaml.FoldedStyle:
		line, col = n.Line+1, p.blockIndent(n.Line)+1
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		col++
	}
	for line-1 < len(p.lines) {
		seg := []rune(p.lines[line-1])
		if col-1 > len(seg) {
			break
		}
		length := len([]rune(strings.TrimRight(string(seg[col-1:]), " ")))
		if off <= length {
			return Pos{File: p.file, Line: line, Col: col + off}
		}
		off -= length + 1
		line++
		next := p.lines[min(line-1, len(p.lines)-1)]
		col = len(next) - len(strings.TrimLeft(next, " ")) + 1
	}
	return p.pos(n)
}

// blockIndent is the indentation of a block scalar whose indicator is on
// line: that of its first non-blank content line.
func (p *parser) blockIndent(line int) int {
	for i := line; i < len(p.lines); i++ { // p.lines is 0-based: line+1 is index line
		l := p.lines[i]
		if strings.TrimSpace(l) == "" {
			continue
		}
		return len(l) - len(strings.TrimLeft(l, " "))
	}
	return 0
}

var reYAMLLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns the YAML library's error into a diagnostic.
func (p *parser) yamlError(err error) {
	msg := err.Error()
	line := 1
	if m := reYAMLLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	p.errAt(Pos{File: p.file, Line: line, Col: 1}, "bad YAML: %s; check the indentation, brackets and quoting around this line", msg)
}
