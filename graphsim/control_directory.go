package graphsim

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// GroupSeed is a directory group. Kind picks the documented combination of
// groupTypes, mailEnabled and securityEnabled:
//
//	"unified"      Microsoft 365 group: groupTypes ["Unified"], mail-enabled
//	"distribution" distribution list (mailing list): mail-enabled, not security
//	"mailsecurity" mail-enabled security group
//	"security"     security group without mail
//
// Members are user IDs/UPNs or group IDs (nested groups).
type GroupSeed struct {
	ID           string   `json:"id"` // derived from the tenant and mailNickname/displayName when empty
	DisplayName  string   `json:"displayName"`
	Description  string   `json:"description"`
	Kind         string   `json:"kind"`
	Mail         string   `json:"mail"`         // default mailNickname@tenant domain for mail-enabled kinds
	MailNickname string   `json:"mailNickname"` // default derived from displayName
	Members      []string `json:"members"`
}

func (t *tenant) reindexGroups() {
	sort.Slice(t.groups, func(i, j int) bool { return t.groups[i].id < t.groups[j].id })
	t.groupByID = make(map[string]*group, len(t.groups))
	for _, g := range t.groups {
		t.groupByID[strings.ToLower(g.id)] = g
	}
}

// buildGroup turns a seed into a group (members resolved later).
func (t *tenant) buildGroup(gs GroupSeed) (*group, error) {
	if strings.TrimSpace(gs.DisplayName) == "" {
		return nil, errors.New("graphsim: group without displayName")
	}
	nick := gs.MailNickname
	if nick == "" {
		nick = strings.ToLower(strings.Join(strings.FieldsFunc(gs.DisplayName, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}), ""))
	}
	g := &group{id: gs.ID, displayName: gs.DisplayName, description: gs.Description, mailNickname: nick}
	if g.id == "" {
		g.id = deterministicGUID("group", t.id, strings.ToLower(nick))
	}
	switch strings.ToLower(gs.Kind) {
	case "unified", "":
		g.groupTypes, g.mailEnabled, g.visibility = []string{"Unified"}, true, "Private"
	case "distribution":
		g.mailEnabled = true
	case "mailsecurity":
		g.mailEnabled, g.securityEnabled = true, true
	case "security":
		g.securityEnabled = true
	default:
		return nil, fmt.Errorf("graphsim: group %q: kind %q must be unified, distribution, mailsecurity or security", gs.DisplayName, gs.Kind)
	}
	if g.mailEnabled {
		g.mail = gs.Mail
		if g.mail == "" {
			g.mail = nick + "@" + hostOf("", t.domain)
		}
	}
	return g, nil
}

// resolveMembers maps member keys to references.
func (t *tenant) resolveMembers(g *group, keys []string) ([]memberRef, error) {
	var out []memberRef
	seen := map[string]bool{}
	for _, k := range keys {
		var ref memberRef
		if u := t.lookupUser(k); u != nil {
			ref = memberRef{id: u.id}
		} else if x := t.groupByID[strings.ToLower(k)]; x != nil && x != g {
			ref = memberRef{id: x.id, isGroup: true}
		} else {
			return nil, fmt.Errorf("graphsim: group %q: unknown member %q", g.displayName, k)
		}
		if !seen[ref.id] {
			seen[ref.id] = true
			out = append(out, ref)
		}
	}
	return out, nil
}

// seedGroups adds a seed's groups to a new tenant.
func (t *tenant) seedGroups(seeds []GroupSeed) error {
	var built []*group
	for _, gs := range seeds {
		g, err := t.buildGroup(gs)
		if err != nil {
			return err
		}
		if t.groupByID[strings.ToLower(g.id)] != nil {
			return fmt.Errorf("graphsim: duplicate group %q", g.id)
		}
		t.groups = append(t.groups, g)
		t.reindexGroups()
		built = append(built, g)
	}
	for i, g := range built {
		m, err := t.resolveMembers(g, seeds[i].Members)
		if err != nil {
			return err
		}
		g.members = m
	}
	return nil
}

// UpsertGroup adds a group or, when one with the seed's (derived) ID
// exists, replaces its properties and membership. groups/delta links
// report the change (membership changes as members@delta) and the group's
// ID is returned.
func (s *Server) UpsertGroup(tenantID string, gs GroupSeed) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return "", fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	g, err := t.buildGroup(gs)
	if err != nil {
		return "", err
	}
	members, err := t.resolveMembers(g, gs.Members)
	if err != nil {
		return "", err
	}
	old := t.groupByID[strings.ToLower(g.id)]
	seq := t.nextChange()
	if old == nil {
		g.createdSeq = seq
		g.members = members
		t.groups = append(t.groups, g)
		t.reindexGroups()
		return g.id, nil
	}
	if old.propSeq == nil {
		old.propSeq = map[string]int{}
	}
	for _, p := range groupProps {
		if fmt.Sprint(groupValue(old, p)) != fmt.Sprint(groupValue(g, p)) {
			old.propSeq[p] = seq
		}
	}
	old.displayName, old.description, old.mail, old.mailNickname = g.displayName, g.description, g.mail, g.mailNickname
	old.groupTypes, old.mailEnabled, old.securityEnabled, old.visibility = g.groupTypes, g.mailEnabled, g.securityEnabled, g.visibility
	setMembers(old, members, seq)
	return old.id, nil
}

// setMembers replaces a group's membership, logging adds and removals.
func setMembers(g *group, members []memberRef, seq int) {
	now := map[string]bool{}
	for _, m := range members {
		now[m.id] = true
		if !g.hasMember(m.id) {
			g.memberLog = append(g.memberLog, memberChange{ref: m, seq: seq})
		}
	}
	for _, m := range g.members {
		if !now[m.id] {
			g.memberLog = append(g.memberLog, memberChange{ref: m, removed: true, seq: seq})
		}
	}
	g.members = members
}

// AddGroupMember adds a user (ID or UPN) or group (ID) to a group.
func (s *Server) AddGroupMember(tenantID, groupID, member string) error {
	return s.changeMembers(tenantID, groupID, func(t *tenant, g *group) ([]memberRef, error) {
		add, err := t.resolveMembers(g, []string{member})
		if err != nil {
			return nil, err
		}
		if g.hasMember(add[0].id) {
			return g.members, nil
		}
		return append(append([]memberRef(nil), g.members...), add[0]), nil
	})
}

// RemoveGroupMember removes a member from a group.
func (s *Server) RemoveGroupMember(tenantID, groupID, member string) error {
	return s.changeMembers(tenantID, groupID, func(t *tenant, g *group) ([]memberRef, error) {
		id := member
		if u := t.lookupUser(member); u != nil {
			id = u.id
		}
		if !g.hasMember(id) {
			return nil, fmt.Errorf("%w: member %q of group %q", ErrNotFound, member, groupID)
		}
		var out []memberRef
		for _, m := range g.members {
			if m.id != id {
				out = append(out, m)
			}
		}
		return out, nil
	})
}

func (s *Server) changeMembers(tenantID, groupID string, fn func(*tenant, *group) ([]memberRef, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	g := t.groupByID[strings.ToLower(groupID)]
	if g == nil {
		return fmt.Errorf("%w: group %q", ErrNotFound, groupID)
	}
	members, err := fn(t, g)
	if err != nil {
		return err
	}
	setMembers(g, members, t.nextChange())
	return nil
}

// DeleteGroup removes a group (and its membership in other groups).
// groups/delta links report it as removed.
func (s *Server) DeleteGroup(tenantID, groupID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	g := t.groupByID[strings.ToLower(groupID)]
	if g == nil {
		return fmt.Errorf("%w: group %q", ErrNotFound, groupID)
	}
	seq := t.nextChange()
	kept := t.groups[:0]
	for _, x := range t.groups {
		if x != g {
			kept = append(kept, x)
			if x.hasMember(g.id) {
				var ms []memberRef
				for _, m := range x.members {
					if m.id != g.id {
						ms = append(ms, m)
					}
				}
				setMembers(x, ms, seq)
			}
		}
	}
	t.groups = kept
	t.reindexGroups()
	t.groupTombs = append(t.groupTombs, tombstone{id: g.id, seq: seq, addedSeq: g.createdSeq})
	return nil
}
