package graphclient

import (
	"context"
	"fmt"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
)

// MailboxDeltas reads the next page of each of a mailbox's delta cursors
// in reqs — folders, folders' messages, the calendar window, contacts — in
// one $batch round trip (two beyond 20 requests). Each answer is decoded
// the way a direct request's page would be.
func (c *Client) MailboxDeltas(ctx context.Context, creds activities.Credentials, mailbox string, reqs []activities.DeltaRequest) ([]activities.DeltaAnswer, error) {
	s, err := c.session(creds)
	if err != nil {
		return nil, err
	}
	urls := make([]string, len(reqs))
	for i, r := range reqs {
		if urls[i] = r.Link; urls[i] != "" {
			continue
		}
		switch r.Kind {
		case domain.CursorFolders:
			urls[i] = c.foldersDeltaURL(mailbox)
		case domain.CursorMessages:
			urls[i] = c.messagesDeltaURL(mailbox, r.Folder, r.Bodies)
		case domain.CursorEvents:
			urls[i] = c.eventsDeltaURL(mailbox, r.From, r.To)
		case domain.CursorContacts:
			urls[i] = c.contactsDeltaURL(mailbox)
		default:
			return nil, fmt.Errorf("graph client: no mailbox delta of kind %q", r.Kind)
		}
	}
	answers, err := c.batchGet(ctx, s, mailbox, "delta batch of mailbox "+mailbox, urls)
	if err != nil {
		return nil, err
	}
	out := make([]activities.DeltaAnswer, len(reqs))
	for i, r := range reqs {
		a := answers[i]
		if a.err != nil {
			out[i].Err = prefixed(a.err, describe(mailbox, r))
			continue
		}
		switch r.Kind {
		case domain.CursorFolders:
			out[i].Folders, out[i].Err = decodeFolders(a.body, mailbox)
		case domain.CursorMessages:
			out[i].Messages, out[i].Err = c.decodeMessages(ctx, s, a.body, mailbox, r.Folder)
		case domain.CursorEvents:
			out[i].Events, out[i].Err = decodeEvents(a.body, mailbox)
		case domain.CursorContacts:
			out[i].Contacts, out[i].Err = decodeContacts(a.body, mailbox)
		}
	}
	return out, nil
}

// describe names a request in errors, as its decoder does.
func describe(mailbox string, r activities.DeltaRequest) string {
	switch r.Kind {
	case domain.CursorFolders:
		return "mail folder delta of mailbox " + mailbox
	case domain.CursorMessages:
		return fmt.Sprintf("message delta of mailbox %s folder %s", mailbox, r.Folder)
	case domain.CursorEvents:
		return "calendar delta of mailbox " + mailbox
	default:
		return "contacts delta of mailbox " + mailbox
	}
}
