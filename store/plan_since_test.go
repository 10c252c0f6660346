package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// MessagesSince must read through messages_time too: a digest of a day's
// mail must not walk the whole mailbox.
func TestSQLiteMessagesSinceUsesTheTimeIndex(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, Config{Driver: DriverSQLite, SQLitePath: filepath.Join(t.TempDir(), "plan.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*sqlStore)
	rows, err := s.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+sinceQuery(true, 100), "t", "m", s.t(time.Now()))
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
		t.Errorf("the read since a time does not search messages_time by time: %s", got)
	}
}
