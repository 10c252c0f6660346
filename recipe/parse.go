package recipe

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/outlookflow/outlookflow/domain"

	_ "time/tzdata" // time zones validate the same on every machine
)

// Options are what validation knows about the deployment. The zero value
// checks the file on its own.
type Options struct {
	// Tenants, when not nil, are the configured tenants by key: a recipe
	// naming another tenant is an error, and each recipe's steps are
	// checked against its tenant's Grant.
	Tenants map[string]Grant
	// Summarizers, when not nil, are the names of the configured
	// OpenAI-compatible endpoints a summarize step may use besides
	// "builtin".
	Summarizers []string
}

// Grant is what a tenant's connection allows.
type Grant struct {
	// Delegated is true for delegated auth (scopes, "scp"), false for
	// app-only (roles). Actions Graph does not support app-only are
	// errors for app-only tenants.
	Delegated bool
	// Permissions are the granted permissions. nil means unknown (not
	// checked); an empty list means none.
	Permissions []string
}

// Keys of each part of a recipe file.
var (
	recipeKeys  = []string{"name", "tenant", "description", "enabled", "mailboxes", "trigger", "condition", "steps"}
	mailboxKeys = []string{"users", "group", "all"}
	mailFilters = []string{"folder", "from", "to", "cc", "toOrCc", "subjectContains", "importance", "hasAttachments", "categories"}
	eventFilter = []string{"subjectContains", "organizer", "isOnlineMeeting"}
)

// triggerKeys are the fields each trigger kind accepts, in documentation
// order.
var triggerKeys = map[TriggerKind][]string{
	TriggerNewMail:              mailFilters,
	TriggerMailFlagged:          mailFilters,
	TriggerMailMentionsMe:       mailFilters,
	TriggerSharedMailboxNewMail: append([]string{"mailbox"}, mailFilters...),
	TriggerEventChanged:         append([]string{"changeTypes"}, eventFilter...),
	TriggerUpcomingEvent:        append([]string{"leadTime"}, eventFilter...),
	TriggerSchedule:             {"every", "cron", "timeZone"},
	TriggerManual:               {},
}

// Triggers lists the trigger kinds, in documentation order.
func Triggers() []string {
	return []string{string(TriggerNewMail), string(TriggerMailFlagged), string(TriggerMailMentionsMe),
		string(TriggerSharedMailboxNewMail), string(TriggerEventChanged), string(TriggerUpcomingEvent),
		string(TriggerSchedule), string(TriggerManual)}
}

// Parse decodes and validates one recipe file. It returns the recipe only
// when there are no diagnostics; diagnostics are sorted by position.
func Parse(file string, data []byte, opts Options) (*Recipe, []Diagnostic) {
	p := &parser{file: file, opts: opts, lines: strings.Split(string(data), "\n"),
		allIDs: map[string]bool{}, actionOf: map[string]string{}, idPos: map[string]Pos{}}
	r := p.parse(data)
	sortDiagnostics(p.diags)
	if len(p.diags) > 0 {
		return nil, p.diags
	}
	sum := sha256.Sum256(data)
	r.Digest = hex.EncodeToString(sum[:8])
	return r, nil
}

func (p *parser) parse(data []byte) *Recipe {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errAt(Pos{File: p.file, Line: 1, Col: 1}, "the file is empty; a recipe needs at least name, tenant, trigger and steps")
			return nil
		}
		p.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errf(&extra, "a second YAML document (after ---); put one recipe per file")
	}
	if len(doc.Content) == 0 {
		p.errAt(Pos{File: p.file, Line: 1, Col: 1}, "the file is empty; a recipe needs at least name, tenant, trigger and steps")
		return nil
	}
	root := resolve(doc.Content[0])
	r := &Recipe{File: p.file, Enabled: true}
	fs := p.fields(root, "recipe", recipeKeys)
	if fs == nil && root.Kind != yaml.MappingNode {
		return nil
	}
	byKey := map[string]field{}
	for _, f := range fs {
		byKey[f.key] = f
	}
	for _, k := range []string{"name", "tenant", "trigger", "steps"} {
		if _, ok := byKey[k]; !ok {
			p.errf(root, "the recipe has no %s; add %s", k, missingHint(k))
		}
	}
	if f, ok := byKey["name"]; ok {
		r.NamePos = p.pos(f.node)
		if s, ok := p.nonEmpty(f, "recipe"); ok {
			if !reSlug.MatchString(s) {
				p.errf(f.node, "name %q is not a slug; use lower-case letters, digits and dashes, e.g. %q", s, slugify(s))
			}
			r.Name = s
		}
	}
	if f, ok := byKey["tenant"]; ok {
		r.TenantPos = p.pos(f.node)
		if s, ok := p.nonEmpty(f, "recipe"); ok {
			r.Tenant = s
			if p.opts.Tenants != nil {
				if g, known := p.opts.Tenants[s]; known {
					p.grant = &g
				} else {
					p.errf(f.node, "tenant %q is not configured; %s", s, didYouMean(s, tenantKeys(p.opts.Tenants)))
				}
			}
		}
	}
	if f, ok := byKey["description"]; ok {
		r.Description, _ = p.str(f, "recipe")
	}
	if f, ok := byKey["enabled"]; ok {
		if b, ok := p.boolean(f, "recipe"); ok {
			r.Enabled = b
		}
	}
	if f, ok := byKey["trigger"]; ok {
		p.trigger(f, r)
		p.runHasMailbox = p.kind == TriggerSharedMailboxNewMail || needsMailboxes(p.kind)
	}
	if f, ok := byKey["mailboxes"]; ok {
		p.mailboxes(f, r)
		// Even when mailboxes has an error, runs will have a mailbox
		// once it is fixed: do not pile errors on the steps.
		p.runHasMailbox = true
	} else if p.kind != "" && needsMailboxes(p.kind) {
		p.errf(root, "the recipe has no mailboxes; add mailboxes: with users: [...], group: <group> or all: true")
	}
	if f, ok := byKey["steps"]; ok {
		p.collectIDs(f.node)
	}
	if f, ok := byKey["condition"]; ok && p.kind != "" {
		r.Condition = p.expression(f, "condition", exprScope{kind: p.kind, later: p.allIDs, actionOf: p.actionOf})
	}
	if f, ok := byKey["steps"]; ok {
		if f.node.Kind != yaml.SequenceNode || len(f.node.Content) == 0 {
			p.errf(f.node, "steps must be a list with at least one step, not %s; start each step with \"- id: ...\"", describe(f.node))
		} else {
			r.Steps = p.steps(f.node)
		}
	}
	if p.grant != nil && p.kind != "" {
		p.checkGrant(r)
	}
	r.stepsType = stepsStruct(p.seen)
	return r
}

func missingHint(k string) string {
	switch k {
	case "name":
		return "name: <a-slug> (lower-case letters, digits, dashes)"
	case "tenant":
		return "tenant: <tenant key from the configuration>"
	case "trigger":
		return "trigger: with one of " + strings.Join(Triggers(), ", ")
	}
	return "steps: with at least one step"
}

func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func tenantKeys(m map[string]Grant) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// needsMailboxes reports whether a trigger kind watches mailboxes the
// recipe must name.
func needsMailboxes(k TriggerKind) bool {
	return k != TriggerSharedMailboxNewMail && k != TriggerSchedule && k != TriggerManual
}

func (p *parser) mailboxes(f field, r *Recipe) {
	r.Mailboxes.Pos = p.pos(f.node)
	if p.kind == TriggerSharedMailboxNewMail {
		p.errf(f.kn, "mailboxes does not apply to sharedMailboxNewMail; the trigger's mailbox field names the shared mailbox: remove mailboxes")
		return
	}
	fs := p.fields(f.node, "mailboxes", mailboxKeys)
	if len(fs) != 1 {
		if f.node.Kind == yaml.MappingNode && len(fs) > 1 {
			p.errf(f.node, "mailboxes sets %d of users, group and all; set exactly one", len(fs))
		} else if f.node.Kind == yaml.MappingNode && len(f.node.Content) == 0 {
			p.errf(f.node, "mailboxes is empty; set exactly one of users: [...], group: <group> or all: true")
		}
		return
	}
	m := fs[0]
	switch m.key {
	case "users":
		if ns, ok := p.strs(m, "mailboxes"); ok {
			r.Mailboxes.Scope, r.Mailboxes.Users = ScopeUsers, values(ns)
		}
	case "group":
		if s, ok := p.nonEmpty(m, "mailboxes"); ok {
			r.Mailboxes.Scope, r.Mailboxes.Group = ScopeGroup, s
		}
	case "all":
		if b, ok := p.boolean(m, "mailboxes"); ok {
			if !b {
				p.errf(m.node, "all: false selects no mailbox; list users or a group instead")
				return
			}
			r.Mailboxes.Scope = ScopeAll
		}
	}
}

func (p *parser) trigger(f field, r *Recipe) {
	n := f.node
	if n.Kind != yaml.MappingNode {
		p.errf(n, "trigger must be a mapping with one trigger, not %s; e.g. trigger: {newMail: {folder: inbox}}", describe(n))
		return
	}
	fs := p.fields(n, "trigger", nil)
	if len(fs) == 0 {
		p.errf(n, "trigger is empty; use one of %s", strings.Join(Triggers(), ", "))
		return
	}
	if len(fs) > 1 {
		p.errf(fs[1].kn, "trigger has more than one kind (%s and %s); a recipe has exactly one trigger: split it into two recipes", fs[0].key, fs[1].key)
		return
	}
	tf := fs[0]
	kind := TriggerKind(tf.key)
	known, ok := triggerKeys[kind]
	if !ok {
		p.errf(tf.kn, "unknown trigger %q; %s", tf.key, didYouMean(tf.key, Triggers()))
		return
	}
	p.kind = kind
	t := &r.Trigger
	t.Kind, t.Pos, t.FieldPos = kind, p.pos(tf.kn), map[string]Pos{}
	where := "trigger " + tf.key
	switch kind {
	case TriggerNewMail, TriggerSharedMailboxNewMail:
		t.Folder = domain.FolderInbox
	}
	var filters []field
	if !isNull(tf.node) {
		filters = p.fields(tf.node, where, known)
	}
	set := map[string]bool{}
	for _, ff := range filters {
		set[ff.key] = true
		t.FieldPos[ff.key] = p.pos(ff.node)
		p.triggerField(ff, where, t)
	}
	switch kind {
	case TriggerSharedMailboxNewMail:
		if !set["mailbox"] {
			p.errf(tf.kn, "sharedMailboxNewMail needs mailbox; add mailbox: <shared mailbox address>")
		}
	case TriggerUpcomingEvent:
		if !set["leadTime"] {
			p.errf(tf.kn, "upcomingEvent needs leadTime; add leadTime: 15m (how long before the start to fire)")
		}
	case TriggerSchedule:
		switch {
		case set["every"] && set["cron"]:
			p.errAt(t.FieldPos["cron"], "schedule has both every and cron; keep one")
		case !set["every"] && !set["cron"]:
			p.errf(tf.kn, "schedule needs every: <duration> or cron: \"<minute hour day month weekday>\"; add one")
		case set["every"] && set["timeZone"]:
			p.errAt(t.FieldPos["timeZone"], "timeZone applies to cron only; remove it or use cron")
		}
		if set["cron"] && t.TimeZone == "" {
			t.TimeZone = "UTC"
		}
	case TriggerEventChanged:
		if !set["changeTypes"] {
			t.ChangeTypes = []domain.ChangeType{domain.ChangeCreated, domain.ChangeUpdated, domain.ChangeDeleted}
		}
	}
}

func (p *parser) triggerField(f field, where string, t *Trigger) {
	switch f.key {
	case "folder":
		t.Folder, _ = p.nonEmpty(f, where)
	case "from", "to", "cc", "toOrCc", "organizer":
		ns, ok := p.strs(f, where)
		if !ok {
			return
		}
		for _, n := range ns {
			if !strings.Contains(n.Value, "@") {
				p.errf(n, "%q in %s of %s is not an email address; write it like name@contoso.com", n.Value, f.key, where)
				ok = false
			}
		}
		vs := lowerAll(values(ns))
		switch f.key {
		case "from":
			t.From = vs
		case "to":
			t.To = vs
		case "cc":
			t.Cc = vs
		case "toOrCc":
			t.ToOrCc = vs
		case "organizer":
			t.Organizer = vs
		}
	case "subjectContains":
		if ns, ok := p.strs(f, where); ok {
			t.SubjectContains = values(ns)
		}
	case "categories":
		if ns, ok := p.strs(f, where); ok {
			t.Categories = values(ns)
		}
	case "importance":
		if s, ok := p.enum(f, where, []string{"low", "normal", "high"}); ok {
			t.Importance = domain.Importance(s)
		}
	case "hasAttachments":
		if b, ok := p.boolean(f, where); ok {
			t.HasAttachments = &b
		}
	case "isOnlineMeeting":
		if b, ok := p.boolean(f, where); ok {
			t.IsOnlineMeeting = &b
		}
	case "mailbox":
		if s, ok := p.nonEmpty(f, where); ok {
			if !strings.Contains(s, "@") {
				p.errf(f.node, "mailbox %q in %s is not an address; write the shared mailbox's address, e.g. support@contoso.com", s, where)
			}
			t.Mailbox = strings.ToLower(s)
		}
	case "changeTypes":
		ns, ok := p.strs(f, where)
		if !ok {
			return
		}
		all := []string{"created", "updated", "deleted"}
		for _, n := range ns {
			if !contains(all, n.Value) {
				p.errf(n, "changeTypes in %s must list created, updated or deleted, not %q; %s", where, n.Value, didYouMean(n.Value, all))
				continue
			}
			t.ChangeTypes = append(t.ChangeTypes, domain.ChangeType(n.Value))
		}
	case "leadTime":
		if d, ok := p.duration(f, where); ok {
			t.LeadTime = time.Duration(d)
		}
	case "every":
		if d, ok := p.duration(f, where); ok {
			t.Every = time.Duration(d)
			if t.Every < time.Minute {
				p.errf(f.node, "every %s in %s is shorter than a minute; use 1m or more", t.Every, where)
			}
		}
	case "cron":
		if s, ok := p.nonEmpty(f, where); ok {
			if err := checkCron(s); err != nil {
				p.errf(f.node, "bad cron %q in %s: %v; write five fields, minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\"", s, where, err)
				return
			}
			t.Cron = s
		}
	case "timeZone":
		if s, ok := p.nonEmpty(f, where); ok {
			if err := loadZone(s); err != nil {
				p.errf(f.node, "unknown time zone %q in %s; use an IANA name such as \"Europe/Paris\" or \"America/New_York\"", s, where)
				return
			}
			t.TimeZone = s
		}
	}
}

func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(strings.TrimSpace(s))
	}
	return out
}

// expression compiles a boolean expression field.
func (p *parser) expression(f field, what string, sc exprScope) *Expr {
	src, ok := p.str(f, what)
	if !ok {
		return nil
	}
	prog, err := compileExpr(src, sc, true)
	if err != nil {
		p.errAt(p.offsetPos(f.node, err.offset), "bad %s: %s", what, err.msg)
		return nil
	}
	return &Expr{Source: src, Pos: p.pos(f.node), prog: prog}
}

// template compiles a text field.
func (p *parser) template(n *yaml.Node, name, where string, sc exprScope) *Template {
	t, errs := compileTemplate(n.Value, sc)
	for _, e := range errs {
		p.errAt(p.offsetPos(n, e.offset), "bad template in %s of %s: %s", name, where, e.msg)
	}
	if len(errs) > 0 {
		return nil
	}
	t.Pos = p.pos(n)
	return t
}

// scope is the expression scope at the current point of the steps.
func (p *parser) scope() exprScope {
	later := map[string]bool{}
	for id := range p.allIDs {
		later[id] = true
	}
	for _, s := range p.seen {
		delete(later, s.id)
	}
	return exprScope{kind: p.kind, steps: append([]stepOutput(nil), p.seen...), later: later, actionOf: p.actionOf}
}

// collectIDs finds every step ID in the file up front, so an expression
// can tell a step that runs later from one that does not exist.
func (p *parser) collectIDs(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		return
	}
	for _, s := range n.Content {
		s = resolve(s)
		if s.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(s.Content); i += 2 {
			k, v := s.Content[i].Value, resolve(s.Content[i+1])
			switch k {
			case "id":
				p.allIDs[v.Value] = true
			case "then", "else":
				p.collectIDs(v)
			}
		}
	}
}

func (p *parser) steps(n *yaml.Node) []*Step {
	var out []*Step
	for _, sn := range n.Content {
		if s := p.step(resolve(sn)); s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) step(n *yaml.Node) *Step {
	if n.Kind != yaml.MappingNode {
		p.errf(n, "a step must be a mapping (id: and one action), not %s", describe(n))
		return nil
	}
	s := &Step{Pos: p.pos(n), Params: map[string]*Param{}}
	fs := p.fields(n, "step", nil)
	var action *field
	var then, els *field
	hasID, unknownAction := false, false
	for i := range fs {
		f := &fs[i]
		switch f.key {
		case "id":
			hasID = true
			if id, ok := p.nonEmpty(*f, "step"); ok {
				if !reStepID.MatchString(id) {
					p.errf(f.node, "step id %q must start with a letter and use only letters, digits and _ (expressions refer to it as steps.%s); e.g. %q", id, id, strings.ReplaceAll(slugify(id), "-", "_"))
				} else if prev, dup := p.idPos[id]; dup {
					p.errf(f.node, "step id %q is already used at %d:%d; step ids must be unique in a recipe", id, prev.Line, prev.Col)
				} else {
					p.idPos[id] = p.pos(f.node)
				}
				s.ID = id
			}
		case "then":
			then = f
		case "else":
			els = f
		default:
			if f.key != "wait" && f.key != "if" && actionsByName[f.key] == nil {
				p.errf(f.kn, "unknown action %q in step %q; %s", f.key, s.ID, didYouMean(f.key, append(Actions(), "wait", "if")))
				unknownAction = true
				continue
			}
			if action != nil {
				p.errf(f.kn, "step %q has both %s and %s; a step does exactly one thing: split it into two steps", s.ID, action.key, f.key)
				continue
			}
			action = f
		}
	}
	label := fmt.Sprintf("step %q", s.ID)
	if !hasID {
		p.errf(n, "step has no id; add id: <name> (letters, digits, _) so later steps and the run history can refer to it")
		label = fmt.Sprintf("step at %d:%d", n.Line, n.Column)
	}
	if action == nil {
		if unknownAction {
			return nil
		}
		p.errf(n, "%s has no action; add one of %s, wait or if", label, strings.Join(Actions(), ", "))
		return nil
	}
	s.Action, s.ActionPos = action.key, p.pos(action.kn)
	if s.ID != "" {
		p.actionOf[s.ID] = s.Action
	}
	if (then != nil || els != nil) && s.Action != "if" {
		bad := then
		if bad == nil {
			bad = els
		}
		p.errf(bad.kn, "%s in %s belongs to an if step; add if: <condition> or move these steps into the list", bad.key, label)
	}
	switch s.Action {
	case "if":
		s.If = p.expression(*action, "if", p.scope())
		if then == nil {
			p.errf(action.kn, "%s has if but no then; add then: with the steps to run when it is true", label)
		} else {
			s.Then = p.branch(*then, label)
		}
		if els != nil {
			s.Else = p.branch(*els, label)
		}
		return s
	case "wait":
		p.params(s, waitSpec, *action, "wait "+label)
		s.Wait = &Wait{}
		if prm := s.Params["for"]; prm != nil {
			s.Wait.For = prm.Dur
		}
		if prm := s.Params["untilReplyInConversation"]; prm != nil {
			s.Wait.UntilReplyInConversation = prm.Bool
			if !prm.Bool {
				p.errAt(prm.Pos, "untilReplyInConversation: false waits for nothing; remove it or set it to true")
			}
		}
		if s.Wait.UntilReplyInConversation && !p.kind.IsMail() && s.Params["conversationId"] == nil {
			p.errAt(s.ActionPos, "%s waits for a reply but trigger %s has no conversation; set conversationId (e.g. from a send step's outputs)", label, p.kind)
		}
		p.addSeen(s, outWait)
		return s
	}
	spec := actionsByName[s.Action]
	p.params(s, spec, *action, fmt.Sprintf("%s step %q", s.Action, s.ID))
	p.actionRules(s, spec)
	p.addSeen(s, spec.output)
	return s
}

func (p *parser) addSeen(s *Step, out reflect.Type) {
	if s.ID != "" && reStepID.MatchString(s.ID) && !containsSeen(p.seen, s.ID) {
		p.seen = append(p.seen, stepOutput{id: s.ID, typ: out})
	}
}

func containsSeen(seen []stepOutput, id string) bool {
	for _, s := range seen {
		if s.id == id {
			return true
		}
	}
	return false
}

func (p *parser) branch(f field, label string) []*Step {
	if f.node.Kind != yaml.SequenceNode || len(f.node.Content) == 0 {
		p.errf(f.node, "%s of %s must be a list of steps, not %s", f.key, label, describe(f.node))
		return nil
	}
	return p.steps(f.node)
}

// params decodes an action's (or wait's) parameters.
func (p *parser) params(s *Step, spec *actionSpec, action field, where string) {
	var fs []field
	if !isNull(action.node) {
		fs = p.fields(action.node, where, spec.paramNames())
	}
	sc := p.scope()
	for _, f := range fs {
		ps, _ := spec.param(f.key)
		prm := &Param{Name: f.key, Pos: p.pos(f.node)}
		ok := true
		switch ps.kind {
		case kText, kTime:
			var src string
			if src, ok = p.str(f, where); ok {
				prm.Text = p.template(f.node, f.key, where, sc)
				ok = prm.Text != nil
				if ok && ps.kind == kTime && prm.Text.IsLiteral() && parseTimeLiteral(src) != nil {
					p.errf(f.node, "%q in %s is not a date-time: %q; write 2025-03-01T09:00:00Z, 2025-03-01T09:00 (in timeZone) or a template such as \"{{ event.start }}\"", f.key, where, src)
					ok = false
				}
			}
		case kList:
			var ns []*yaml.Node
			if ns, ok = p.strs(f, where); ok {
				for _, n := range ns {
					t := p.template(n, f.key, where, sc)
					if t == nil {
						ok = false
						continue
					}
					prm.List = append(prm.List, t)
				}
			}
		case kEnum:
			prm.Str, ok = p.enum(f, where, ps.enum)
		case kBool:
			prm.Bool, ok = p.boolean(f, where)
		case kInt:
			prm.Int, ok = p.integer(f, where)
			if ok && prm.Int <= 0 {
				p.errf(f.node, "%s in %s must be positive, not %d", f.key, where, prm.Int)
				ok = false
			}
		case kDuration:
			var d int64
			d, ok = p.duration(f, where)
			prm.Dur = time.Duration(d)
		case kStrings:
			var ns []*yaml.Node
			if ns, ok = p.strs(f, where); ok {
				prm.Strs = values(ns)
			}
		case kTimeZone:
			if prm.Str, ok = p.nonEmpty(f, where); ok && loadZone(prm.Str) != nil {
				p.errf(f.node, "unknown time zone %q in %s; use an IANA name such as \"Europe/Paris\" or \"America/New_York\"", prm.Str, where)
				ok = false
			}
		case kPerms:
			prm.Perms, ok = p.declaredPerms(f, where)
		}
		if ok {
			s.Params[f.key] = prm
		} else {
			// Keep a placeholder so "missing required field" is not
			// reported on top of the real problem.
			s.Params[f.key] = nil
		}
	}
	for _, ps := range spec.params {
		if _, set := s.Params[ps.name]; ps.required && !set {
			p.errAt(s.ActionPos, "%s needs %s; add %s: ...", where, ps.name, ps.name)
		}
	}
	for _, group := range spec.oneOf {
		any := false
		for _, name := range group {
			if _, set := s.Params[name]; set {
				any = true
			}
		}
		if !any {
			p.errAt(s.ActionPos, "%s needs %s; add one", where, orList(group))
		}
	}
	for k, v := range s.Params {
		if v == nil {
			delete(s.Params, k)
		}
	}
	// HTML bodies escape what their placeholders insert.
	if bt := s.Params["bodyType"]; bt != nil && bt.Str == "html" {
		if b := s.Params["body"]; b != nil && b.Text != nil {
			b.Text.HTML = true
		}
	}
}

func orList(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func (p *parser) declaredPerms(f field, where string) (*DeclaredPermissions, bool) {
	fs := p.fields(f.node, "permissions of "+where, []string{"application", "delegated"})
	if f.node.Kind != yaml.MappingNode {
		return nil, false
	}
	d := &DeclaredPermissions{}
	ok := true
	for _, pf := range fs {
		ns, good := p.strs(pf, "permissions of "+where)
		if !good {
			ok = false
			continue
		}
		for _, n := range ns {
			if strings.ContainsAny(n.Value, " ,") || !strings.Contains(n.Value, ".") {
				p.errf(n, "%q is not a Graph permission name; write names like Mail.ReadWrite, one per entry", n.Value)
				ok = false
			}
		}
		if pf.key == "application" {
			d.Application = values(ns)
		} else {
			d.Delegated = values(ns)
		}
	}
	if ok && len(fs) == 0 {
		p.errf(f.node, "permissions of %s lists none; add application: [...] and/or delegated: [...] with what the request needs", where)
		ok = false
	}
	return d, ok
}

// actionRules checks what the parameter table cannot say on its own.
func (p *parser) actionRules(s *Step, spec *actionSpec) {
	where := fmt.Sprintf("%s step %q", s.Action, s.ID)
	if p.kind != "" && !p.runHasMailbox {
		// Without a mailbox from the trigger, the step must say whose
		// mailbox it acts in.
		key := ""
		if _, ok := spec.param("mailbox"); ok {
			key = "mailbox"
		}
		if _, ok := spec.param("from"); ok {
			key = "from"
		}
		if key != "" && s.Params[key] == nil {
			p.errAt(s.ActionPos, "%s has no mailbox to act in: trigger %s without mailboxes gives none; set %s: <address> or add mailboxes: to the recipe", where, p.kind, key)
		}
	}
	switch spec.item {
	case onMessage:
		if !p.kind.IsMail() && s.Params["messageId"] == nil && p.kind != "" {
			p.errAt(s.ActionPos, "%s needs a message: trigger %s has none; set messageId (e.g. \"{{ steps.<id>.messageId }}\") or use a mail trigger", where, p.kind)
		}
	case onEvent:
		if !p.kind.IsEvent() && s.Params["eventId"] == nil && p.kind != "" {
			p.errAt(s.ActionPos, "%s needs an event: trigger %s has none; set eventId (e.g. \"{{ steps.<id>.eventId }}\") or use an event trigger", where, p.kind)
		}
	}
	if s.Params["end"] != nil && s.Params["duration"] != nil {
		p.errAt(s.Params["duration"].Pos, "%s has both end and duration; keep one", where)
	}
	switch s.Action {
	case "updateEvent":
		changes := 0
		for k := range s.Params {
			if k != "eventId" && k != "bodyType" && k != "timeZone" {
				changes++
			}
		}
		if changes == 0 {
			p.errAt(s.ActionPos, "%s changes nothing; set at least one of subject, start, end, attendees, location, isOnlineMeeting or body", where)
		}
	case "setAutomaticReplies":
		if st := s.Params["status"]; st != nil && st.Str == "scheduled" && (s.Params["start"] == nil || s.Params["end"] == nil) {
			p.errAt(st.Pos, "status scheduled in %s needs start and end; add both", where)
		}
	case "graphRequest":
		if pp := s.Params["path"]; pp != nil && !strings.HasPrefix(strings.TrimSpace(pp.Text.Source), "/") {
			p.errAt(pp.Pos, "path in %s must start with / and be relative to the Graph version, e.g. /users/{{ trigger.mailbox }}/mailFolders", where)
		}
		if m := s.Params["method"]; m != nil && m.Str == "GET" && s.Params["body"] != nil {
			p.errAt(s.Params["body"].Pos, "a GET request in %s has no body; remove body or change method", where)
		}
	case "summarize":
		p.summarizeRules(s, where)
	}
}

// MaxSummaryItems bounds a summarize step's maxItems.
const MaxSummaryItems = 100

func (p *parser) summarizeRules(s *Step, where string) {
	of := s.Params["of"]
	if of == nil {
		return
	}
	threadsOnly := []string{"since", "folder", "unansweredOnly", "includeBodies"}
	eventsOnly := []string{"within"}
	wrong := eventsOnly
	if of.Str == "events" {
		wrong = threadsOnly
	}
	for _, k := range wrong {
		if prm := s.Params[k]; prm != nil {
			p.errAt(prm.Pos, "%s does not apply to a summary of %s in %s; remove it", k, of.Str, where)
		}
	}
	if m := s.Params["maxItems"]; m != nil && (m.Int < 1 || m.Int > MaxSummaryItems) {
		p.errAt(m.Pos, "maxItems in %s must be 1 to %d; a digest is a short read", where, MaxSummaryItems)
	}
	if sm := s.Params["summarizer"]; sm != nil && p.opts.Summarizers != nil {
		name := sm.Text.Source
		if name != "builtin" && !contains(p.opts.Summarizers, name) {
			p.errAt(sm.Pos, "summarizer %q in %s is not configured; use builtin or one of the configured endpoints (%s)", name, where, strings.Join(p.opts.Summarizers, ", "))
		}
	}
}
