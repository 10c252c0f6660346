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
			urls[i] = c.foldersDeltaURL(mailboxRoot(creds, mailbox))
		case domain.CursorMessages:
			urls[i] = c.messagesDeltaURL(mailboxRoot(creds, mailbox), r.Folder, r.Bodies)
		case domain.CursorEvents:
			urls[i] = c.eventsDeltaURL(mailboxRoot(creds, mailbox), r.From, r.To)
		case domain.CursorContacts:
			urls[i] = c.contactsDeltaURL(mailboxRoot(creds, mailbox))
		default:
			return nil, fmt.Errorf("graph client: no mailbox delta of kind %q", r.Kind)
		}
	}
	answers, err := c.batchGet(ctx, s, mailbox, "delta batch of mailbox "+mailbox, urls)
	if err != nil {
		return nil, err
	}
	// Each answer is decoded when the sync takes it (Load), so a batch of
	// several full pages is held decoded one page at a time.
	out := make([]activities.DeltaAnswer, len(reqs))
	for i, r := range reqs {
		if err := answers[i].err; err != nil {
			out[i].Err = prefixed(err, describe(mailbox, r))
			continue
		}
		body := answers[i].body
		out[i].Load = func(a *activities.DeltaAnswer) {
			switch r.Kind {
			case domain.CursorFolders:
				a.Folders, a.Err = decodeFolders(body, mailbox)
			case domain.CursorMessages:
				a.Messages, a.Err = c.decodeMessages(ctx, s, body, mailbox, r.Folder)
			case domain.CursorEvents:
				a.Events, a.Err = decodeEvents(body, mailbox)
			case domain.CursorContacts:
				a.Contacts, a.Err = decodeContacts(body, mailbox)
			}
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
