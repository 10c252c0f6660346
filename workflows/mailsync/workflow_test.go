package mailsync

import (
	"context"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
)

func runWith(t *testing.T, mailboxes int, in Input) (Result, []activities.SyncMailboxesInput) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivity(&activities.Sync{})
	env.OnActivity(a.SyncDirectory, mock.Anything, mock.Anything).Return(activities.SyncDirectoryResult{Pages: 1, Changed: mailboxes, Mailboxes: mailboxes}, nil)
	var batches []activities.SyncMailboxesInput
	var mu sync.Mutex // the test environment runs parallel activities on goroutines
	env.OnActivity(a.SyncMailboxes, mock.Anything, mock.Anything).Return(
		func(_ context.Context, b activities.SyncMailboxesInput) (activities.SyncMailboxesResult, error) {
			mu.Lock()
			batches = append(batches, b)
			mu.Unlock()
			n := max(0, min(b.Limit, mailboxes-b.Offset))
			if b.Mailbox != "" {
				n = 1
			}
			return activities.SyncMailboxesResult{Mailboxes: n, Pages: 3 * n, Inserted: 10 * n}, nil
		})
	env.ExecuteWorkflow(Workflow, in)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res Result
	require.NoError(t, env.GetWorkflowResult(&res))
	return res, batches
}

func TestEveryMailboxIsCoveredOnceAndBatchesScaleWithTheTenant(t *testing.T) {
	for _, tc := range []struct {
		mailboxes, wantBatches int
	}{
		{36, 4},      // small: one batch per parallel slot, 9 each
		{200, 4},     // 4 batches of 50
		{201, 5},     // past the cap: batches of 50
		{10000, 200}, // large: the 50-mailbox cap, 200 activities a cycle
		{0, 0},       // an empty directory syncs no mailbox
	} {
		res, batches := runWith(t, tc.mailboxes, Input{TenantKey: "contoso"})
		require.Len(t, batches, tc.wantBatches, "%d mailboxes", tc.mailboxes)
		// Batches run in parallel; order them by where they start.
		sort.Slice(batches, func(i, j int) bool { return batches[i].Offset < batches[j].Offset })
		covered := 0
		for i, b := range batches {
			require.Equal(t, covered, b.Offset, "batch %d must start where the previous ended", i)
			covered += min(b.Limit, tc.mailboxes-b.Offset)
		}
		require.Equal(t, tc.mailboxes, covered)
		require.Equal(t, tc.mailboxes, res.MailboxesDone)
		require.Equal(t, tc.mailboxes, res.MailboxesTotal)
		require.Equal(t, 10*tc.mailboxes, res.Items)
		require.Equal(t, "done", res.Phase)
	}
}

func TestOneMailboxIsOneBatch(t *testing.T) {
	res, batches := runWith(t, 36, Input{TenantKey: "contoso", Mailbox: "adele@contoso.example"})
	require.Len(t, batches, 1)
	require.Equal(t, "adele@contoso.example", batches[0].Mailbox)
	require.Equal(t, 1, res.MailboxesTotal)
	require.Equal(t, 1, res.MailboxesDone)
}
