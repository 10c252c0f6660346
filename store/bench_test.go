package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// BenchmarkApplyMessagesPage measures one delta page of 1,000 new messages
// (Graph's largest page) and the same page replayed (all unchanged), per
// driver: the store's share of the sync's budget per 1,000 messages.
func BenchmarkApplyMessagesPage(b *testing.B) {
	for _, driver := range []struct {
		name   string
		config func(testing.TB) store.Config
	}{{"sqlite", sqliteConfig}, {"postgres", postgresConfig}} {
		b.Run(driver.name, func(b *testing.B) {
			cfg := driver.config(b)
			ctx := context.Background()
			s, err := store.Open(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const mbox, folderID = "u-bench", "inbox"
			if _, err := s.ApplyFolders(ctx, store.FoldersPage{Tenant: "bench", Mailbox: mbox,
				Upserts: []domain.MailFolder{{ID: folderID, WellKnownName: domain.FolderInbox}}, Next: store.Next{Token: "f"}}); err != nil {
				b.Fatal(err)
			}
			page := func(round int) store.MessagesPage {
				p := store.MessagesPage{Tenant: "bench", Mailbox: mbox, FolderID: folderID, Next: store.Next{Token: fmt.Sprint(round)}}
				for i := range 1000 {
					id := fmt.Sprintf("r%d-m%04d", round, i)
					p.Upserts = append(p.Upserts, domain.Message{ID: id, ConversationID: "c" + id, InternetMessageID: "<" + id + "@x>",
						From: domain.EmailAddress{Name: "Ann", Address: "ann@contoso.com"}, To: []domain.EmailAddress{{Address: "bob@contoso.com"}},
						Subject: "Subject " + id, ReceivedAt: time.Unix(int64(1700000000+i), 0), Importance: domain.ImportanceNormal,
						Categories: []string{"Blue"}})
				}
				return p
			}
			b.Run("new", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := s.ApplyMessages(ctx, page(i)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("replayed", func(b *testing.B) {
				p := page(0)
				for i := 0; i < b.N; i++ {
					if _, err := s.ApplyMessages(ctx, p); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
