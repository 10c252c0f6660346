package graphclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
)

// meSelect is userSelect without the manager link: /me reads the user's
// own profile, and their manager needs User.ReadBasic.All, which a
// delegated tenant is not asked for.
const meSelect = "id,displayName,mail,userPrincipalName,accountEnabled,jobTitle,department"

// Me reads the signed-in user's own profile: GET /me (delegated
// credentials; User.Read).
func (c *Client) Me(ctx context.Context, creds activities.Credentials) (domain.User, error) {
	s, err := c.session(creds)
	if err != nil {
		return domain.User{}, err
	}
	body, err := s.getJSON(ctx, creds.User, c.graphURL("/me", url.Values{"$select": {meSelect}}))
	if err != nil {
		return domain.User{}, err
	}
	var u graphUser
	if err := json.Unmarshal(body, &u); err != nil {
		return domain.User{}, fmt.Errorf("decoding /me: %w", err)
	}
	enabled := u.AccountEnabled == nil || *u.AccountEnabled
	return domain.User{ID: u.ID, UserPrincipalName: u.UserPrincipalName, Mail: u.Mail, DisplayName: u.DisplayName,
		JobTitle: u.JobTitle, Department: u.Department, AccountEnabled: enabled, HasMailbox: u.Mail != ""}, nil
}

// mailboxRoot is the path of a mailbox: /me for the signed-in user's own
// (delegated credentials), /users/{id} otherwise.
func mailboxRoot(creds activities.Credentials, mailbox string) string {
	if creds.User != "" && creds.User == mailbox {
		return "/me"
	}
	return "/users/" + url.PathEscape(mailbox)
}
