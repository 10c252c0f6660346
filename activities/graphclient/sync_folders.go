package graphclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
)

// foldersDeltaURL starts a mailbox's mail-folder delta: every folder,
// child folders at any depth, in the first round; then folders created,
// changed (renamed, moved, item counts) or deleted (@removed).
func (c *Client) foldersDeltaURL(root string) string {
	return c.graphURL(root+"/mailFolders/delta", url.Values{"$select": {folderSelect}})
}

func decodeFolders(body []byte, mailbox string) (activities.FoldersDeltaPage, error) {
	return decodeDelta(body, "mail folder delta of mailbox "+mailbox, folderTypes, func(_ int, f *graphFolder) (domain.MailFolder, error) {
		return f.domain(mailbox), nil
	})
}

var folderTypes = []string{"#microsoft.graph.mailFolder", "#microsoft.graph.mailSearchFolder"}

func (f graphFolder) domain(mailbox string) domain.MailFolder {
	return domain.MailFolder{ID: f.ID, Mailbox: mailbox, ParentFolderID: f.ParentFolderID, DisplayName: f.DisplayName,
		TotalItemCount: f.TotalItemCount, UnreadItemCount: f.UnreadItemCount}
}

// wellKnownNames are the folders recipes and readers name; v1.0 has no
// wellKnownName property, but GET mailFolders/{name} answers the folder.
var wellKnownNames = []string{
	domain.FolderInbox, domain.FolderSentItems, domain.FolderDrafts, domain.FolderDeletedItems,
	domain.FolderArchive, domain.FolderJunkEmail, domain.FolderOutbox,
}

// WellKnownFolders resolves a mailbox's well-known folders in one JSON
// $batch of GET mailFolders/{name}: folder ID → well-known name. A name
// the mailbox lacks (404) is left out.
func (c *Client) WellKnownFolders(ctx context.Context, creds activities.Credentials, mailbox string) (map[string]string, error) {
	s, err := c.session(creds)
	if err != nil {
		return nil, err
	}
	what := "well-known folders of mailbox " + mailbox
	urls := make([]string, len(wellKnownNames))
	for i, name := range wellKnownNames {
		urls[i] = c.graphURL(mailboxRoot(creds, mailbox)+"/mailFolders/"+name, url.Values{"$select": {"id"}})
	}
	answers, err := c.batchGet(ctx, s, mailbox, what, urls)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, a := range answers {
		var ge *activities.GraphError
		switch {
		case a.err == nil:
			var f struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(a.body, &f); err != nil || f.ID == "" {
				return nil, &activities.GraphError{Kind: activities.KindMalformed, Message: fmt.Sprintf("%s: %s has no id", what, wellKnownNames[i])}
			}
			out[f.ID] = wellKnownNames[i]
		case errors.As(a.err, &ge) && ge.Kind == activities.KindNotFound:
		default:
			return nil, prefixed(a.err, what+" ("+wellKnownNames[i]+")")
		}
	}
	return out, nil
}
