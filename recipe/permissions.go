package recipe

import (
	"fmt"
	"sort"
	"strings"

	"github.com/outlookflow/outlookflow/internal/permissions"
)

// Need is one Graph permission a part of a recipe needs.
type Need struct {
	permissions.Requirement
	// By names what needs it: "trigger newMail", "mailboxes group",
	// `step "fwd" (forward)`.
	By  string
	Pos Pos
	// Note is said alongside the permission (an extra admin step, or that
	// the mapping is not verified against Graph's documentation).
	Note string
	// Unsupported is set when Graph has no permission for this in the
	// auth mode asked for; Requirement is then empty.
	Unsupported string
}

// Needs lists what each part of r needs in the given auth mode, in file
// order, without deduplication: the explanation behind Permissions.
func Needs(r *Recipe, delegatedAuth bool) []Need {
	var out []Need
	feature := func(f string) []permissions.Requirement {
		rs, _ := permissions.Required([]string{f}, delegatedAuth)
		return rs
	}
	add := func(by string, pos Pos, note string, rs ...permissions.Requirement) {
		for _, rq := range rs {
			out = append(out, Need{Requirement: rq, By: by, Pos: pos, Note: note})
		}
	}
	if r.Mailboxes.Scope == ScopeGroup {
		add("mailboxes group", r.Mailboxes.Pos, "to list the group's members", feature(permissions.FeatureGroups)...)
	}
	by := "trigger " + string(r.Trigger.Kind)
	switch k := r.Trigger.Kind; {
	case k == TriggerSharedMailboxNewMail && delegatedAuth:
		add(by, r.Trigger.Pos, "delegated access to a shared mailbox; not in graph-behavior §8, unverified", permMailReadShared)
	case k == TriggerMailMentionsMe:
		add(by, r.Trigger.Pos, "reads mentionsPreview from Graph's beta endpoint (GET /beta/users/{id}/messages); unverified whether Mail.ReadBasic(.All) suffices there (a 403 records the mail as not fired)", feature(permissions.FeatureMail)...)
	case k.IsMail():
		add(by, r.Trigger.Pos, "", feature(permissions.FeatureMail)...)
	case k.IsEvent():
		add(by, r.Trigger.Pos, "", feature(permissions.FeatureCalendar)...)
	}
	walkSteps(r.Steps, func(s *Step) {
		out = append(out, stepNeeds(s, delegatedAuth, feature)...)
	})
	return out
}

func stepNeeds(s *Step, delegatedAuth bool, feature func(string) []permissions.Requirement) []Need {
	by := fmt.Sprintf("step %q (%s)", s.ID, s.Action)
	var out []Need
	add := func(pos Pos, note string, rs ...permissions.Requirement) {
		for _, rq := range rs {
			out = append(out, Need{Requirement: rq, By: by, Pos: pos, Note: note})
		}
	}
	switch s.Action {
	case "if":
		return nil
	case "wait":
		if s.Wait != nil && s.Wait.UntilReplyInConversation {
			add(s.ActionPos, "to see replies arrive", feature(permissions.FeatureMail)...)
		}
		return out
	case "summarize":
		if of := s.Params["of"]; of != nil && of.Str == "events" {
			add(s.ActionPos, "", feature(permissions.FeatureCalendar)...)
		} else {
			add(s.ActionPos, "", feature(permissions.FeatureMail)...)
			if b := s.Params["includeBodies"]; b != nil && b.Bool {
				add(b.Pos, "includeBodies reads message bodies", feature(permissions.FeatureMailBodies)...)
			}
		}
		return out
	case "graphRequest":
		prm := s.Params["permissions"]
		if prm == nil || prm.Perms == nil {
			return nil // reported as a missing parameter
		}
		d := prm.Perms
		names := d.Application
		if delegatedAuth {
			names = d.Delegated
		}
		if len(names) == 0 {
			return []Need{{By: by, Pos: s.ActionPos, Unsupported: fmt.Sprintf("the step declares no %s permissions", authName(delegatedAuth))}}
		}
		for _, n := range names {
			add(prm.Pos, "declared by the recipe", req(n))
		}
		return out
	}
	spec := actionsByName[s.Action]
	if !delegatedAuth {
		if spec.appUnsupported != "" {
			return []Need{{By: by, Pos: s.ActionPos, Unsupported: spec.appUnsupported}}
		}
		add(s.ActionPos, spec.appNote, spec.app...)
		return out
	}
	add(s.ActionPos, "", spec.delegated...)
	if f := s.Params["from"]; f != nil && s.Action == "send" {
		// The keyed draft is created in, and sent from, that mailbox.
		add(f.Pos, "sending as another mailbox (from) with delegated auth", permMailSendShared, permMailRWShared)
	}
	return out
}

func authName(delegated bool) string {
	if delegated {
		return "delegated"
	}
	return "application"
}

// walkSteps calls fn for every step, branches included, in file order.
func walkSteps(steps []*Step, fn func(*Step)) {
	for _, s := range steps {
		fn(s)
		walkSteps(s.Then, fn)
		walkSteps(s.Else, fn)
	}
}

// Permissions returns the minimal set of Graph permissions r needs in the
// given auth mode: each entry is the least-privileged permission for what
// needs it (with the higher ones that also satisfy it), entries another
// entry already covers are dropped (Mail.ReadBasic.All when Mail.ReadWrite
// is needed too), and the list is sorted by name. Parts Graph does not
// support in that mode are left out; Needs reports them.
func Permissions(r *Recipe, delegatedAuth bool) []permissions.Requirement {
	byName := map[string]permissions.Requirement{}
	for _, n := range Needs(r, delegatedAuth) {
		if n.Unsupported != "" {
			continue
		}
		byName[n.Permission] = n.Requirement
	}
	var out []permissions.Requirement
	for name, rq := range byName {
		covered := false
		for _, higher := range rq.SatisfiedBy {
			if _, ok := byName[higher]; ok && higher != name {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, rq)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Permission < out[j].Permission })
	return out
}

// checkGrant reports the parts of r the tenant's grant cannot run.
func (p *parser) checkGrant(r *Recipe) {
	g := p.grant
	mode := authName(g.Delegated)
	for _, n := range Needs(r, g.Delegated) {
		if n.Unsupported != "" {
			fix := "connect the tenant with delegated auth or remove the step"
			if strings.HasPrefix(n.Unsupported, "the step declares") {
				fix = fmt.Sprintf("add permissions.%s to the step with what the request needs", map[bool]string{true: "delegated", false: "application"}[g.Delegated])
			}
			p.errAt(n.Pos, "%s cannot run for tenant %q (%s auth): %s; %s", n.By, r.Tenant, mode, n.Unsupported, fix)
			continue
		}
		if g.Permissions == nil {
			continue
		}
		if missing := permissions.Missing([]permissions.Requirement{n.Requirement}, g.Permissions); len(missing) > 0 {
			p.errAt(n.Pos, "%s needs %s, which tenant %q has not granted (%s permissions); grant it to the app and consent again, or remove %s",
				n.By, n.Permission, r.Tenant, mode, strings.SplitN(n.By, " (", 2)[0])
		}
	}
}
