package main

import (
	"context"
	"sort"

	enumspb "go.temporal.io/api/enums/v1"
)

// Temporal actions, counted as Temporal Cloud bills them
// (docs.temporal.io/cloud/actions): a workflow started (client start,
// continue-as-new, child start: the child counts twice), every activity
// attempt started or retried, timers started, search-attribute upserts,
// signals, updates, side effects and markers (local activities: one per
// workflow task; counted here per marker, an upper bound), plus the activity
// heartbeats that reached the server (not in histories: counted by the
// worker's gRPC interceptor). Queries would count too; the bench sends none.
// A run started by the tenant's Schedule adds two more (the schedule's own).

// actionCount is a run's actions by kind.
type actionCount map[string]int

func (a actionCount) total() int {
	n := 0
	for _, v := range a {
		n += v
	}
	return n
}

func (a actionCount) keys() []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// countActions reads a run's history (following continue-as-new) and
// counts its billable events.
func (w *world) countActions(ctx context.Context, workflowID, runID string, heartbeats int64) (actionCount, error) {
	a := actionCount{}
	if heartbeats > 0 {
		a["heartbeat"] = int(heartbeats)
	}
	for {
		it := w.tclient.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		next := ""
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, err
			}
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
				a["workflow_started"]++
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				// Attempt N's started event stands for N attempts.
				a["activity_attempt"] += max(1, int(ev.GetActivityTaskStartedEventAttributes().GetAttempt()))
			case enumspb.EVENT_TYPE_TIMER_STARTED:
				a["timer"]++
			case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
				a["search_attribute_upsert"]++
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
				a["signal"]++
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
				a["update"]++
			case enumspb.EVENT_TYPE_MARKER_RECORDED:
				a["marker"]++
			case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
				a["child_workflow"] += 2
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
				next = ev.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
			}
		}
		if next == "" {
			return a, nil
		}
		runID = next
	}
}
