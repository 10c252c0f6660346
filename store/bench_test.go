package store_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// BenchmarkApplyMessagesPage measures one delta page of 1,000 new messages
// (Graph's largest page), the same with the trigger outbox, and a page
// replayed (all unchanged), per driver: the store's share of the sync's
// budget per 1,000 messages.
//
// The data is shaped like Graph's: GUID tenant and mailbox, Exchange-sized
// IDs (about 60 characters) that arrive in no particular order, three
// recipients. The table already holds benchOtherRows messages of other
// mailboxes of the tenant, so a page's index writes land in a large table
// rather than an empty one; the mailbox synced starts with one page.
// PostgreSQL has statistics for it all (as autovacuum's ANALYZE keeps in
// production): without any, the planner guesses a mailbox is one row.
//
// Besides ns/op it reports cpu-ms/1000msg: the CPU time of this process
// (user and system) per page, which is the worker's CPU for SQLite and the
// worker's side only for PostgreSQL.
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
			tenant := benchGUID("tenant")
			mbox, folderID := benchGUID("mailbox"), benchOutlookID("folder", "inbox")
			for i := range benchOtherMailboxes {
				other := benchGUID("other", fmt.Sprint(i))
				applyBenchFolder(b, s, tenant, other, folderID)
				for p := range benchOtherRows / benchOtherMailboxes / 1000 {
					if _, err := s.ApplyMessages(ctx, benchPage(tenant, other, folderID, p)); err != nil {
						b.Fatal(err)
					}
				}
			}
			applyBenchFolder(b, s, tenant, mbox, folderID)
			if _, err := s.ApplyMessages(ctx, benchPage(tenant, mbox, folderID, -1)); err != nil {
				b.Fatal(err)
			}
			if cfg.Driver == store.DriverPostgres {
				analyze(b, cfg.PostgresDSN)
			}
			// Rounds count on across b.Run's repeated calls (its first
			// run of one iteration, -count), so every page is new.
			round := 0
			b.Run("new", func(b *testing.B) {
				var cpu time.Duration
				for i := 0; i < b.N; i++ {
					round++
					b.StopTimer()
					p := benchPage(tenant, mbox, folderID, round)
					b.StartTimer()
					start := processCPU()
					c, err := s.ApplyMessages(ctx, p)
					cpu += processCPU() - start
					if err != nil {
						b.Fatal(err)
					}
					if c.Inserted != 1000 {
						b.Fatalf("a new page inserted %d messages, want 1000", c.Inserted)
					}
				}
				reportCPU(b, cpu)
			})
			// The same with the trigger outbox: each page also writes its
			// 1,000 changes there, acknowledged (untimed) after.
			b.Run("new-outbox", func(b *testing.B) {
				var cpu time.Duration
				for i := 0; i < b.N; i++ {
					round++
					b.StopTimer()
					p := benchPage(tenant, mbox, folderID, round)
					p.Outbox = true
					b.StartTimer()
					start := processCPU()
					c, err := s.ApplyMessages(ctx, p)
					cpu += processCPU() - start
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					pending, err := s.PendingChanges(ctx, tenant, mbox, 0)
					if err != nil {
						b.Fatal(err)
					}
					if c.Inserted != 1000 || len(pending) != 1000 {
						b.Fatalf("a new page inserted %d messages and %d outbox rows, want 1000 each", c.Inserted, len(pending))
					}
					seqs := make([]int64, len(pending))
					for j, pc := range pending {
						seqs[j] = pc.Seq
					}
					if err := s.AckChanges(ctx, tenant, seqs); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				reportCPU(b, cpu)
			})
			b.Run("replayed", func(b *testing.B) {
				p := benchPage(tenant, mbox, folderID, -1) // seeded above
				var cpu time.Duration
				for i := 0; i < b.N; i++ {
					start := processCPU()
					c, err := s.ApplyMessages(ctx, p)
					cpu += processCPU() - start
					if err != nil {
						b.Fatal(err)
					}
					if c.Unchanged != 1000 {
						b.Fatalf("a replayed page left %d messages unchanged, want 1000", c.Unchanged)
					}
				}
				reportCPU(b, cpu)
			})
			// Reading a thread (four messages) of the mailbox the pages
			// above filled, as the recipe engine does to find replies: all
			// of an old thread, and a thread of the last page since just
			// before it (a reply wait's usual read).
			readThread := func(b *testing.B, round int, after time.Time) {
				conv := benchOutlookID("conversation", mbox, fmt.Sprint(round, 0))
				for i := 0; i < b.N; i++ {
					ms, err := s.ConversationMessages(ctx, tenant, mbox, conv, after)
					if err != nil {
						b.Fatal(err)
					}
					if len(ms) != 4 {
						b.Fatalf("the conversation has %d messages, want 4", len(ms))
					}
				}
			}
			b.Run("thread-all", func(b *testing.B) { readThread(b, -1, time.Time{}) })
			b.Run("thread-recent", func(b *testing.B) {
				readThread(b, round, benchReceived(round, 0).Add(-time.Minute))
			})
		})
	}
}

// The table holds benchOtherRows messages of benchOtherMailboxes other
// mailboxes before the benchmark starts.
const (
	benchOtherMailboxes = 20
	benchOtherRows      = 100_000
)

func applyBenchFolder(b *testing.B, s store.Store, tenant, mailbox, folderID string) {
	b.Helper()
	if _, err := s.ApplyFolders(context.Background(), store.FoldersPage{Tenant: tenant, Mailbox: mailbox,
		Upserts: []domain.MailFolder{{ID: folderID, WellKnownName: domain.FolderInbox}}, Next: store.Next{Token: "f"}}); err != nil {
		b.Fatal(err)
	}
}

// benchPage is page round of a mailbox's message delta: 1,000 messages
// whose IDs no other round or mailbox shares.
func benchPage(tenant, mailbox, folderID string, round int) store.MessagesPage {
	p := store.MessagesPage{Tenant: tenant, Mailbox: mailbox, FolderID: folderID,
		Next: store.Next{Token: "https://graph.microsoft.com/v1.0/users/" + mailbox + "/mailFolders/" + folderID +
			"/messages/delta?$skiptoken=" + benchOutlookID("token", mailbox, fmt.Sprint(round))}}
	for i := range 1000 {
		key := fmt.Sprintf("%s/%d/%d", mailbox, round, i)
		id := benchOutlookID("message", key)
		received := benchReceived(round, i)
		p.Upserts = append(p.Upserts, domain.Message{
			ID: id, ConversationID: benchOutlookID("conversation", mailbox, fmt.Sprint(round, i/4)),
			InternetMessageID: "<" + benchOutlookID("imid", key)[5:33] + "@EX.contoso.com>",
			From:              domain.EmailAddress{Name: "Ann Example", Address: "ann.example@contoso.com"},
			Sender:            domain.EmailAddress{Name: "Ann Example", Address: "ann.example@contoso.com"},
			To: []domain.EmailAddress{{Name: "Bob Example", Address: "bob.example@contoso.com"},
				{Name: "Carol Example", Address: "carol.example@contoso.com"}},
			Cc:         []domain.EmailAddress{{Name: "Dan Example", Address: "dan.example@fabrikam.com"}},
			Subject:    fmt.Sprintf("RE: Quarterly planning, item %d of round %d", i, round),
			ReceivedAt: received, SentAt: received.Add(-3 * time.Second), Importance: domain.ImportanceNormal,
			IsRead: i%3 == 0, Flag: domain.Flag{Status: domain.FlagNotFlagged}, Categories: []string{"Blue category"},
			HasAttachments: i%7 == 0,
		})
	}
	return p
}

// benchReceived is when message i of page round was received: later rounds
// are newer.
func benchReceived(round, i int) time.Time {
	return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(round*1000+i) * time.Minute)
}

// benchOutlookID is an ID shaped like Exchange's (as graphsim makes them):
// about 60 characters, uniformly spread.
func benchOutlookID(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	sum := h.Sum(nil)
	body := base64.URLEncoding.EncodeToString(append(sum, sum[:9]...))
	return "AAMkA" + body[:len(body)-1] + "="
}

func benchGUID(parts ...string) string {
	x := fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint(parts))))
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func analyze(b *testing.B, dsn string) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	_, err = db.ExecContext(context.Background(), "ANALYZE")
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process CPU per page of 1,000 messages, in ms.
func reportCPU(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/1000msg")
}
