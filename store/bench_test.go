package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// BenchmarkApplyMessagesPage measures one delta page of 1,000 new messages
// (Graph's largest page) and the same page replayed (all unchanged), per
// driver: the store's share of the sync's budget per 1,000 messages. The
// mailbox already holds 20,000 messages, and PostgreSQL has statistics for
// them (as autovacuum's ANALYZE keeps in production): without any, the
// planner guesses a mailbox is one row and reads all of it per page.
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
			for round := range 20 {
				if _, err := s.ApplyMessages(ctx, page(-1-round)); err != nil {
					b.Fatal(err)
				}
			}
			if cfg.Driver == store.DriverPostgres {
				db, err := sql.Open("pgx", cfg.PostgresDSN)
				if err != nil {
					b.Fatal(err)
				}
				_, err = db.ExecContext(ctx, "ANALYZE")
				if cerr := db.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			// Rounds count on across b.Run's repeated calls (its first
			// run of one iteration, -count), so every page is new.
			round := 0
			b.Run("new", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					round++
					b.StopTimer()
					p := page(round)
					b.StartTimer()
					c, err := s.ApplyMessages(ctx, p)
					if err != nil {
						b.Fatal(err)
					}
					if c.Inserted != 1000 {
						b.Fatalf("a new page inserted %d messages, want 1000", c.Inserted)
					}
				}
			})
			b.Run("replayed", func(b *testing.B) {
				p := page(-1) // seeded above
				for i := 0; i < b.N; i++ {
					c, err := s.ApplyMessages(ctx, p)
					if err != nil {
						b.Fatal(err)
					}
					if c.Unchanged != 1000 {
						b.Fatalf("a replayed page left %d messages unchanged, want 1000", c.Unchanged)
					}
				}
			})
		})
	}
}
