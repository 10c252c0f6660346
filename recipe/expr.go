package recipe

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Expr is a compiled, type-checked boolean expression: a recipe's
// condition or an if step's test.
type Expr struct {
	Source string
	Pos    Pos
	prog   *vm.Program
}

// Eval runs the expression in env.
func (x *Expr) Eval(env *Env) (bool, error) {
	out, err := expr.Run(x.prog, env.vars)
	if err != nil {
		return false, fmt.Errorf("%s: %w", x.Pos, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("%s: expression gave %T, not a bool", x.Pos, out)
	}
	return b, nil
}

// exprScope is what an expression may refer to: the trigger kind's
// variables and the steps before it.
type exprScope struct {
	kind TriggerKind
	// steps are the steps before the expression, in document order; their
	// prefix-struct is the type of `steps`.
	steps []stepOutput
	// later are the IDs of steps at or after the expression, to tell "runs
	// later" from "no such step".
	later map[string]bool
	// actionOf names each step's action, for "has no outputs" messages.
	actionOf map[string]string
}

// exprError is a compile error at a rune offset within the expression.
type exprError struct {
	offset int
	msg    string
}

// Built-in functions an expression may not use: `now()` would make a
// condition depend on the wall clock (use the `now` variable, which the run
// fixes), and the JSON/base64 helpers have no use in conditions.
var disabledBuiltins = []string{"now", "toJSON", "fromJSON", "toBase64", "fromBase64"}

// compileExpr compiles src against the scope. wantBool asks for a boolean
// result (conditions, if); templates accept any printable type.
func compileExpr(src string, sc exprScope, wantBool bool) (*vm.Program, *exprError) {
	if strings.TrimSpace(src) == "" {
		return nil, &exprError{0, "the expression is empty; write one, e.g. mail.importance == \"high\""}
	}
	opts := []expr.Option{expr.Env(typeEnv(sc.kind, stepsStruct(sc.steps))), expr.MaxNodes(500)}
	for _, b := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(b))
	}
	if wantBool {
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, rewriteExprError(src, err, sc, wantBool)
	}
	// No calls into Go code: the environment has no functions, so any
	// call left after checking is a method call on a value (time.Time's,
	// for instance). Builtins compile to BuiltinNode, not CallNode.
	var bad *exprError
	node := prog.Node()
	ast.Walk(&node, visitFunc(func(n *ast.Node) {
		if c, ok := (*n).(*ast.CallNode); ok && bad == nil {
			bad = &exprError{c.Location().From, fmt.Sprintf("calling %s is not allowed; recipes may only use expr's built-in functions (len, lower, upper, trim, duration, date…)", c.Callee)}
		}
	}))
	if bad != nil {
		return nil, bad
	}
	return prog, nil
}

type visitFunc func(*ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(n) }

var (
	reUnknownName = regexp.MustCompile(`^unknown name (\S+)$`)
	reNoField     = regexp.MustCompile(`^type (.+) has no field (\S+)$`)
	reExpectBool  = regexp.MustCompile(`^expected bool, but got (\S+)$`)
)

// knownTypes maps the env types to their field lists for suggestions.
var knownTypes = func() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for _, v := range []any{MailVars{}, EventVars{}, RecipeVars{}, TriggerVars{}, MessageOutput{}, FolderOutput{},
		EventOutput{}, Slot{}, MeetingTimesOutput{}, OnlineMeetingOutput{}, ContactOutput{}, ChannelMessageOutput{},
		SummaryOutput{}, GraphOutput{}, WaitOutput{}, struct{}{}} {
		t := reflect.TypeOf(v)
		m[t.String()] = t
	}
	return m
}()

// rewriteExprError turns expr's messages into ones that say what to do.
func rewriteExprError(src string, err error, sc exprScope, wantBool bool) *exprError {
	var fe *file.Error
	if !errors.As(err, &fe) {
		if m := reExpectBool.FindStringSubmatch(err.Error()); m != nil && wantBool {
			return &exprError{0, fmt.Sprintf("the expression gives a %s, not true or false; compare it, e.g. mail.importance == \"high\"", m[1])}
		}
		return &exprError{0, "bad expression: " + err.Error()}
	}
	off, msg := fe.From, fe.Message
	if m := reUnknownName.FindStringSubmatch(msg); m != nil {
		name := m[1]
		names := envNames(sc.kind)
		switch name {
		case "mail", "event", "input":
			return &exprError{off, fmt.Sprintf("%s is not available with trigger %s; in scope: %s", name, sc.kind, strings.Join(names, ", "))}
		}
		return &exprError{off, fmt.Sprintf("unknown name %q; %s", name, didYouMean(name, names))}
	}
	if m := reNoField.FindStringSubmatch(msg); m != nil {
		typ, field := m[1], m[2]
		base := memberBase(src, off)
		if strings.HasPrefix(typ, "struct {") && base == "steps" {
			return &exprError{off, stepRefMessage(field, sc)}
		}
		if t, ok := knownTypes[typ]; ok {
			if t.NumField() == 0 {
				id := strings.TrimPrefix(base, "steps.")
				return &exprError{off, fmt.Sprintf("step %q (%s) has no outputs; refer to another step or to the trigger's data", id, sc.actionOf[id])}
			}
			return &exprError{off, fmt.Sprintf("unknown field %q in %s; %s", field, base, didYouMean(field, exprFields(t)))}
		}
		return &exprError{off, fmt.Sprintf("unknown field %q in %s; check the name", field, base)}
	}
	if m := reExpectBool.FindStringSubmatch(msg); m != nil && wantBool {
		return &exprError{0, fmt.Sprintf("the expression gives a %s, not true or false; compare it, e.g. mail.importance == \"high\"", m[1])}
	}
	return &exprError{off, fmt.Sprintf("bad expression: %s; see https://expr-lang.org/docs/language-definition", msg)}
}

// stepRefMessage explains a `steps.<id>` that is not in scope.
func stepRefMessage(id string, sc exprScope) string {
	if sc.later[id] {
		return fmt.Sprintf("step %q runs after this point; only earlier steps' outputs can be used", id)
	}
	ids := make([]string, len(sc.steps))
	for i, s := range sc.steps {
		ids[i] = s.id
	}
	if len(ids) == 0 {
		return fmt.Sprintf("no step %q before this point; there are no earlier steps", id)
	}
	return fmt.Sprintf("no step %q before this point; %s", id, didYouMean(id, ids))
}

// memberBase returns the member chain before the field at off: for
// "steps.fwd.mesageId" with off at "mesageId", "steps.fwd".
func memberBase(src string, off int) string {
	r := []rune(src)
	if off > len(r) {
		return ""
	}
	end := off
	for end > 0 && (r[end-1] == '.' || r[end-1] == '?') {
		end--
	}
	start := end
	for start > 0 {
		c := r[start-1]
		if c == '.' || c == '?' || c == '_' || c == '$' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			start--
			continue
		}
		break
	}
	return strings.ReplaceAll(string(r[start:end]), "?.", ".")
}

// printable reports whether a template placeholder's type can be rendered:
// text, numbers, booleans, times, durations and lists of those. Structs
// are refused so a placeholder cannot dump a whole message.
func printable(t reflect.Type) bool {
	if t == nil {
		return true
	}
	if t == reflect.TypeOf(time.Time{}) || t == reflect.TypeOf(time.Duration(0)) {
		return true
	}
	switch t.Kind() {
	case reflect.Interface, reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice, reflect.Array:
		return printable(t.Elem())
	}
	return false
}
