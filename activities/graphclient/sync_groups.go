package graphclient

import (
	"context"
	"net/url"
	"strings"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
)

// Selecting members makes groups delta report members@delta: membership
// arrives with the groups, as changes after the first round.
const groupSelect = "id,displayName,mail,mailEnabled,securityEnabled,groupTypes,members"

type graphGroup struct {
	itemMeta
	DisplayName     string   `json:"displayName"`
	Mail            string   `json:"mail"`
	MailEnabled     bool     `json:"mailEnabled"`
	SecurityEnabled bool     `json:"securityEnabled"`
	GroupTypes      []string `json:"groupTypes"`
	MembersDelta    []struct {
		ODataType string   `json:"@odata.type"`
		ID        string   `json:"id"`
		Removed   *removed `json:"@removed"`
	} `json:"members@delta"`
}

// GroupsDelta reads one page of groups delta: link is the saved next or
// delta link, "" to start a full round.
func (c *Client) GroupsDelta(ctx context.Context, creds activities.Credentials, link string) (activities.GroupsDeltaPage, error) {
	s, err := c.session(creds)
	if err != nil {
		return activities.GroupsDeltaPage{}, err
	}
	if link == "" {
		link = c.graphURL("/groups/delta", url.Values{"$select": {groupSelect}})
	}
	const what = "groups delta"
	body, err := s.getJSON(ctx, "", link)
	if err != nil {
		return activities.GroupsDeltaPage{}, err
	}
	p, err := decodePage[graphGroup](body, what)
	if err != nil {
		return activities.GroupsDeltaPage{}, err
	}
	out := activities.GroupsDeltaPage{NextLink: p.NextLink, DeltaLink: p.DeltaLink}
	for i, g := range p.Value {
		if g.ID == "" {
			return out, malformedItem(what, i, "has no id")
		}
		if err := checkType(g.ODataType, []string{"#microsoft.graph.group"}, what, i); err != nil {
			return out, err
		}
		if g.Removed != nil {
			out.Removed = append(out.Removed, g.ID)
			continue
		}
		out.Groups = append(out.Groups, domain.Group{ID: g.ID, DisplayName: g.DisplayName, Mail: g.Mail,
			MailEnabled: g.MailEnabled, SecurityEnabled: g.SecurityEnabled, GroupTypes: g.GroupTypes})
		for _, m := range g.MembersDelta {
			if m.ID == "" {
				return out, malformedItem(what, i, "has a member without an id")
			}
			gm := domain.GroupMember{GroupID: g.ID, MemberID: m.ID, MemberType: memberType(m.ODataType)}
			if m.Removed != nil {
				out.MembersRemoved = append(out.MembersRemoved, gm)
			} else {
				out.MembersAdded = append(out.MembersAdded, gm)
			}
		}
	}
	return out, nil
}

// memberType turns "#microsoft.graph.user" into domain.MemberUser; Graph
// may omit the type on removals, which the store does not need.
func memberType(odataType string) domain.MemberType {
	t := strings.TrimPrefix(odataType, "#microsoft.graph.")
	if t == "" {
		return domain.MemberUser
	}
	return domain.MemberType(t)
}
