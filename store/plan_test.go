package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ConversationMessages must read through messages_time: its expression and
// the index's must stay the same, or the read walks the whole mailbox
// without any test noticing.
func TestSQLiteConversationReadUsesTheTimeIndex(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, Config{Driver: DriverSQLite, SQLitePath: filepath.Join(t.TempDir(), "plan.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*sqlStore)
	rows, err := s.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+conversationQuery(true), "t", "m", "c", s.t(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan, "; "); !strings.Contains(got, "USING INDEX messages_time (tenant=? AND mailbox=? AND <expr>>?)") {
		t.Errorf("the conversation read does not search messages_time by time: %s", got)
	}
}
