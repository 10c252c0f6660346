package permissions

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// What a tenant needs, set against what it was granted: the one computation
// behind `starter scopes` and the tenant connection's Missing. Like the rest
// of this package it is pure (no maps iterated for output, no clock), so the
// tenant workflow runs it.

// Need is one permission something needs, and what needs it.
type Need struct {
	Requirement
	// By names what needs it, for people: "feature mail",
	// `recipe vip-forward: step "fwd" (forward)`.
	By string
	// Note is said alongside it (an extra admin step such as an
	// application access policy), "" when there is nothing to add.
	Note string `json:",omitempty"`
}

// FeatureNeeds are the needs of a tenant's enabled sync features, each By
// "feature NAME". Unknown features are left out (config validation refuses
// them first).
func FeatureNeeds(features []string, delegatedAuth bool) []Need {
	var out []Need
	for _, f := range features {
		reqs, _ := Required([]string{f}, delegatedAuth)
		for _, r := range reqs {
			out = append(out, Need{Requirement: r, By: "feature " + f})
		}
	}
	return out
}

// Needed is one permission of the minimal set a list of needs comes to.
type Needed struct {
	Permission  string
	SatisfiedBy []string `json:",omitempty"`
	// By lists everything it serves, in the order the needs came: its own
	// needs and those of lesser permissions it covers, each with its Note
	// in parentheses.
	By []string
	// GrantedAs is the granted permission that satisfies it (itself or a
	// higher one); "" when it is lacking or the grant is not known.
	GrantedAs string `json:",omitempty"`
}

// Excess is a granted permission beyond what is needed.
type Excess struct {
	Permission string
	// Instead are the lesser needed permissions that suffice where it is
	// used; empty when nothing needs it at all.
	Instead []string `json:",omitempty"`
	// Reason says which of the two it is, in words.
	Reason string
}

// Comparison is a tenant's needs set against its grant.
type Comparison struct {
	// Needed is the minimal set: each permission once, and none that
	// another needed permission already covers (Mail.ReadBasic.All goes
	// when Mail.ReadWrite is needed too). Sorted by permission.
	Needed []Needed
	// Lacking are the Needed permissions nothing granted satisfies, sorted.
	Lacking []string
	// Beyond are the granted permissions that exceed the need: a higher
	// alternative of a needed one (Mail.Read where Mail.ReadBasic.All
	// suffices), one a needed and granted permission covers anyway, or one
	// nothing needs. Sorted by permission.
	Beyond []Excess
}

// Minimal folds needs into the minimal set of permissions that covers them
// all, sorted by permission. Comparison is case-insensitive, as Entra treats
// permission values.
func Minimal(needs []Need) []Needed {
	groups := group(needs)
	kept := keptGroups(groups)
	var out []Needed
	index := map[string]int{} // folded permission → position in out
	for i, g := range groups {
		if kept[i] {
			index[fold(g.Permission)] = len(out)
			out = append(out, Needed{Permission: g.Permission, SatisfiedBy: g.SatisfiedBy})
		}
	}
	// Each need goes to the kept permission that serves it: itself, or the
	// needed permission that covers it (followed up a chain of covers).
	for _, n := range needs {
		if n.Permission == "" {
			continue
		}
		at, ok := index[fold(n.Permission)]
		if !ok {
			at = index[fold(coverer(groups, kept, n.Permission))]
		}
		by := n.By
		if n.Note != "" {
			by += " (" + n.Note + ")"
		}
		out[at].By = appendOnce(out[at].By, by)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Permission < out[j].Permission })
	return out
}

// Compare sets needs against granted (token roles or scopes): what is
// lacking and what is granted beyond need.
func Compare(needs []Need, granted []string) Comparison {
	cmp := Comparison{Needed: Minimal(needs)}
	grant := grantSet(granted)
	for i := range cmp.Needed {
		n := &cmp.Needed[i]
		n.GrantedAs = satisfier(grant, n.Permission, n.SatisfiedBy)
		if n.GrantedAs == "" {
			cmp.Lacking = append(cmp.Lacking, n.Permission)
		}
	}
	sort.Strings(cmp.Lacking)
	groups := group(needs)
	for _, g := range sortedGrant(granted) {
		if e, beyond := excess(g, grant, groups, cmp.Needed); beyond {
			cmp.Beyond = append(cmp.Beyond, e)
		}
	}
	return cmp
}

// excess decides whether granted permission g exceeds the need.
func excess(g string, grant map[string]string, groups []Requirement, needed []Needed) (Excess, bool) {
	for _, n := range needed {
		if fold(n.Permission) == fold(g) {
			return Excess{}, false // needed as it is
		}
	}
	for _, r := range groups {
		if fold(r.Permission) != fold(g) {
			continue
		}
		// Needed, but a higher needed permission covers it: beyond need
		// once that one is granted too, and serving meanwhile.
		for _, n := range needed {
			if slices.ContainsFunc(r.SatisfiedBy, func(s string) bool { return fold(s) == fold(n.Permission) }) && n.GrantedAs != "" {
				return Excess{Permission: g, Reason: fmt.Sprintf("covered by %s, which is needed and granted", n.GrantedAs)}, true
			}
		}
		return Excess{}, false
	}
	var instead []string
	for _, r := range groups {
		if slices.ContainsFunc(r.SatisfiedBy, func(s string) bool { return fold(s) == fold(g) }) {
			instead = appendOnce(instead, r.Permission)
		}
	}
	if len(instead) == 0 {
		return Excess{Permission: g, Reason: "not needed by any enabled feature or recipe"}, true
	}
	sort.Strings(instead)
	return Excess{Permission: g, Instead: instead, Reason: fmt.Sprintf("more than needed: %s suffices", strings.Join(instead, ", "))}, true
}

// AdminConsentURL is where a tenant administrator grants the app's
// configured permissions: the tenant's admin-consent endpoint on the
// configured cloud's authority host (login.microsoftonline.com for the
// global cloud).
func AdminConsentURL(authorityHost, tenantID, clientID string) string {
	return strings.TrimRight(authorityHost, "/") + "/" + url.PathEscape(tenantID) + "/adminconsent?client_id=" + url.QueryEscape(clientID)
}

// group merges needs by permission, in first-seen order, with the higher
// alternatives every need named.
func group(needs []Need) []Requirement {
	var out []Requirement
	index := map[string]int{}
	for _, n := range needs {
		if n.Permission == "" {
			continue // a part Graph cannot do in this auth mode names no permission
		}
		k := fold(n.Permission)
		i, ok := index[k]
		if !ok {
			index[k] = len(out)
			out = append(out, Requirement{Permission: n.Permission})
			i = len(out) - 1
		}
		for _, s := range n.SatisfiedBy {
			if !slices.ContainsFunc(out[i].SatisfiedBy, func(have string) bool { return fold(have) == fold(s) }) {
				out[i].SatisfiedBy = append(out[i].SatisfiedBy, s)
			}
		}
	}
	return out
}

// keptGroups marks the groups no other kept group covers. Dropping in
// order, and only for a cover that is itself still kept, means two
// permissions listed as covering each other keep one of them.
func keptGroups(groups []Requirement) []bool {
	kept := make([]bool, len(groups))
	for i := range kept {
		kept[i] = true
	}
	for changed := true; changed; {
		changed = false
		for i, g := range groups {
			if kept[i] && coveredByKept(groups, kept, i, g) {
				kept[i], changed = false, true
			}
		}
	}
	return kept
}

func coveredByKept(groups []Requirement, kept []bool, self int, g Requirement) bool {
	for j, h := range groups {
		if j != self && kept[j] && slices.ContainsFunc(g.SatisfiedBy, func(s string) bool { return fold(s) == fold(h.Permission) }) {
			return true
		}
	}
	return false
}

// coverer follows covers from a dropped permission to the kept one that
// serves it.
func coverer(groups []Requirement, kept []bool, perm string) string {
	seen := map[string]bool{}
	for !seen[fold(perm)] {
		seen[fold(perm)] = true
		for i, g := range groups {
			if fold(g.Permission) != fold(perm) {
				continue
			}
			if kept[i] {
				return g.Permission
			}
			for j, h := range groups {
				if j != i && slices.ContainsFunc(g.SatisfiedBy, func(s string) bool { return fold(s) == fold(h.Permission) }) {
					if kept[j] {
						return h.Permission
					}
					perm = h.Permission
				}
			}
			break
		}
	}
	return perm
}

// grantSet maps folded granted permissions to their spelling in the grant.
func grantSet(granted []string) map[string]string {
	m := make(map[string]string, len(granted))
	for _, g := range granted {
		if _, ok := m[fold(g)]; !ok {
			m[fold(g)] = g
		}
	}
	return m
}

// sortedGrant is granted without repeats (case-insensitively), sorted.
func sortedGrant(granted []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range granted {
		if !seen[fold(g)] {
			seen[fold(g)] = true
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// satisfier is the granted permission that satisfies perm: perm itself, or
// the first of its higher alternatives (least privileged first) granted.
func satisfier(grant map[string]string, perm string, higher []string) string {
	if g, ok := grant[fold(perm)]; ok {
		return g
	}
	for _, h := range higher {
		if g, ok := grant[fold(h)]; ok {
			return g
		}
	}
	return ""
}

func appendOnce(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
