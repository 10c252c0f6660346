package recipe

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Step finds the step with the given ID anywhere in the recipe (IDs are
// unique in a recipe, branches included); nil when there is none.
func (r *Recipe) Step(id string) *Step {
	var found *Step
	walkSteps(r.Steps, func(s *Step) {
		if s.ID == id && found == nil {
			found = s
		}
	})
	return found
}

// HTMLBody reports whether the step's body is HTML (bodyType: html), so
// its placeholders are HTML-escaped.
func (s *Step) HTMLBody() bool {
	p := s.Param("bodyType")
	return p != nil && p.Str == "html"
}

// Text renders a text parameter ("" when it is not set). A body with
// bodyType html has its placeholders HTML-escaped.
func (s *Step) Text(name string, env *Env) (string, error) {
	p := s.Param(name)
	if p == nil || p.Text == nil {
		return "", nil
	}
	return Render(p.Text, env, name == "body" && s.HTMLBody())
}

// List renders a list parameter (recipients, attendees): each entry's
// template, split at commas (a placeholder giving a list renders "a, b"),
// trimmed, empty entries dropped.
func (s *Step) List(name string, env *Env) ([]string, error) {
	p := s.Param(name)
	if p == nil {
		return nil, nil
	}
	var out []string
	for _, t := range p.List {
		v, err := Render(t, env, false)
		if err != nil {
			return nil, err
		}
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out, nil
}

// Has reports whether the file sets the parameter.
func (s *Step) Has(name string) bool { return s.Param(name) != nil }

// EvalIf evaluates an if step's condition.
func (s *Step) EvalIf(env *Env) (bool, error) {
	if s.If == nil {
		return false, fmt.Errorf("step %s is not an if step", s.ID)
	}
	return s.If.Eval(env)
}

// SetOutputJSON records step id's outputs from their JSON form (as a run
// keeps them between steps): decoded into the step's output type.
func (e *Env) SetOutputJSON(id string, data []byte) error {
	f, ok := e.r.stepsType.FieldByName(stepField(id))
	if !ok {
		// A step without outputs (markRead…) has nothing to restore.
		return nil
	}
	v := reflect.New(f.Type)
	if err := json.Unmarshal(data, v.Interface()); err != nil {
		return fmt.Errorf("step %q outputs: %w", id, err)
	}
	e.steps.FieldByIndex(f.Index).Set(v.Elem())
	e.vars["steps"] = e.steps.Interface()
	return nil
}
