package recipe

import (
	"fmt"
	"html"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Template is a text field with {{ expression }} placeholders. Each
// placeholder is an expr expression, compiled and type-checked when the
// recipe is validated.
type Template struct {
	Source string
	Pos    Pos
	// HTML is set for bodies whose bodyType is html: render them with
	// html=true so interpolated values are escaped.
	HTML  bool
	parts []tplPart
}

type tplPart struct {
	text string
	prog *vm.Program // nil for literal text
	src  string
}

// IsLiteral reports whether the template has no placeholders.
func (t *Template) IsLiteral() bool {
	for _, p := range t.parts {
		if p.prog != nil {
			return false
		}
	}
	return true
}

// tplPlaceholder is one {{ … }} found while scanning, with the rune offset
// of its expression in the source.
type tplPlaceholder struct {
	src    string
	offset int
}

// scanTemplate splits src into literal text and placeholders. An opening
// "{{" without a closing "}}" is an error at the opening braces.
func scanTemplate(src string) (texts []string, holes []tplPlaceholder, err *exprError) {
	rest, consumed := src, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			texts = append(texts, rest)
			return texts, holes, nil
		}
		texts = append(texts, rest[:i])
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, nil, &exprError{runeLen(src[:consumed+i]), "unclosed {{; end the placeholder with }}"}
		}
		inner := rest[i+2 : i+2+j]
		holes = append(holes, tplPlaceholder{src: inner, offset: runeLen(src[:consumed+i+2])})
		consumed += i + 2 + j + 2
		rest = rest[i+2+j+2:]
	}
}

func runeLen(s string) int { return len([]rune(s)) }

// compileTemplate compiles every placeholder of src. Errors carry rune
// offsets into src.
func compileTemplate(src string, sc exprScope) (*Template, []*exprError) {
	texts, holes, serr := scanTemplate(src)
	if serr != nil {
		return nil, []*exprError{serr}
	}
	t := &Template{Source: src}
	var errs []*exprError
	for i, text := range texts {
		if text != "" {
			t.parts = append(t.parts, tplPart{text: text})
		}
		if i >= len(holes) {
			continue
		}
		h := holes[i]
		// Offsets inside the placeholder count from its first rune.
		lead := runeLen(h.src) - runeLen(strings.TrimLeft(h.src, " \t"))
		prog, err := compileExpr(h.src, sc, false)
		if err != nil {
			if strings.TrimSpace(h.src) == "" {
				err = &exprError{0, "empty placeholder {{ }}; put an expression inside, e.g. {{ mail.subject }}"}
			}
			err.offset += h.offset
			if err.offset < h.offset+lead {
				err.offset = h.offset + lead
			}
			errs = append(errs, err)
			continue
		}
		if typ := prog.Node().Type(); !printable(typ) {
			errs = append(errs, &exprError{h.offset + lead, fmt.Sprintf("{{%s}} is a %s, which cannot be printed; pick one of its fields, e.g. {{ mail.subject }}", h.src, typeName(typ))})
			continue
		}
		t.parts = append(t.parts, tplPart{prog: prog, src: strings.TrimSpace(h.src)})
	}
	return t, errs
}

func typeName(t reflect.Type) string {
	switch t {
	case reflect.TypeOf(MailVars{}):
		return "whole message"
	case reflect.TypeOf(EventVars{}):
		return "whole event"
	}
	if t.Kind() == reflect.Struct {
		return "record"
	}
	return t.String()
}

// Render fills the template's placeholders from env. With html set (an HTML
// body) every interpolated value is HTML-escaped; literal text is the
// author's and stays as written. Without it values are inserted raw.
// Times render as RFC 3339, lists as comma-separated values.
func Render(t *Template, env *Env, html bool) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.prog == nil {
			b.WriteString(p.text)
			continue
		}
		v, err := expr.Run(p.prog, env.vars)
		if err != nil {
			return "", fmt.Errorf("%s: {{ %s }}: %w", t.Pos, p.src, err)
		}
		s := format(v)
		if html {
			s = escapeHTML(s)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func escapeHTML(s string) string { return html.EscapeString(s) }

// format prints a placeholder's value.
func format(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.Format(time.RFC3339)
	case time.Duration:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []string:
		return strings.Join(x, ", ")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = format(e)
		}
		return strings.Join(parts, ", ")
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = format(rv.Index(i).Interface())
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}
