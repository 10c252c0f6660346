// Package reciperun is one run of a recipe: the workflow that carries out a
// recipe's steps for one (recipe, item, change). Its ID derives from that
// triple (recipe.RunID), so a replayed change, a repeated sync cycle or a
// restarted worker never starts a second run. Its input is keys and the
// recipe's step plan — step IDs, action names, durations — never mail: the
// step activities read the trigger's data from the store.
package reciperun

import (
	"time"

	"go.temporal.io/sdk/temporal"
)

// WorkflowName is the registered name of the recipe-run workflow.
const WorkflowName = "RecipeRun"

// TaskQueueSuffix names the recipe runs' own task queue next to the tenant
// connection's: a sync backlog never delays a run's actions.
const TaskQueueSuffix = "-recipes"

// TaskQueue is the recipe-run task queue for a worker whose main queue is base.
func TaskQueue(base string) string { return base + TaskQueueSuffix }

// SignalReply tells a run waiting for a reply that one arrived
// (ReplySignal). The sync sends it when it saves a message in the
// conversation the run waits on.
const SignalReply = "reply"

// QueryState answers with a State.
const QueryState = "state"

// Search attributes: operators find runs by tenant, recipe and status in the
// Web UI, e.g. OutlookflowRecipe = "vip-escalate" AND
// OutlookflowRunStatus = "Failed". No personal data: they are not encrypted.
var (
	SearchAttrTenant = temporal.NewSearchAttributeKeyKeyword("OutlookflowTenant")
	SearchAttrRecipe = temporal.NewSearchAttributeKeyKeyword("OutlookflowRecipe")
	SearchAttrStatus = temporal.NewSearchAttributeKeyKeyword("OutlookflowRunStatus")
)

// SearchAttributeNames lists the Keyword attributes recipe runs need
// registered (OutlookflowTenant is shared with the other workflows).
func SearchAttributeNames() []string {
	return []string{SearchAttrRecipe.GetName(), SearchAttrStatus.GetName()}
}

// Run statuses, as OutlookflowRunStatus shows them.
const (
	StatusRunning   = "Running"
	StatusWaiting   = "Waiting"
	StatusCompleted = "Completed"
	StatusFailed    = "Failed"
	// StatusSkipped: a reminder whose event moved or was cancelled before
	// it went off, or a recipe removed or disabled before the run began.
	StatusSkipped = "Skipped"
)

// Step kinds in a plan.
const (
	KindAction = "action"
	KindWait   = "wait"
	KindIf     = "if"
)

// PlanStep is one step of a recipe as the workflow needs it: what to run,
// not with what data. Then and Else are an if's branches.
type PlanStep struct {
	ID     string
	Kind   string
	Action string `json:",omitempty"`
	// WaitFor and WaitReply describe a wait: a fixed time, a reply in the
	// conversation, or whichever comes first when both are set.
	WaitFor   time.Duration `json:",omitempty"`
	WaitReply bool          `json:",omitempty"`
	Then      []PlanStep    `json:",omitempty"`
	Else      []PlanStep    `json:",omitempty"`
}

// Input starts a run.
type Input struct {
	Tenant string
	Recipe string
	// RunID is the run's key (its workflow ID for item runs), under which
	// the store keeps the trigger's snapshot and the steps' outputs.
	RunID string
	// Mailbox is the object ID of the mailbox the run acts for ("" for a
	// schedule or manual run without one).
	Mailbox string
	// Trigger is the recipe's trigger kind; ChangeKey which occurrence of
	// it this run is (recipe.ChangeKey).
	Trigger   string
	ChangeKey string
	// Digest identifies the recipe file's version the plan came from; a
	// step activity refuses to run a step of a changed recipe whose plan
	// no longer has it.
	Digest string
	Steps  []PlanStep
	// Recheck makes the run match its trigger again before the first step:
	// an upcoming-event reminder starts ahead of time and is dropped if
	// its event moved or was cancelled meanwhile.
	Recheck bool
}

// StepRecord is what one step did, for the result and the state query.
type StepRecord struct {
	ID      string
	Action  string
	Outcome string // done, skipped (branch not taken), replied, timed out, true/false (if)
}

// State is what the state query answers: where the run is.
type State struct {
	Status string
	// Step is the step the run is on (or ended at).
	Step  string
	Steps []StepRecord
	// Reason is why the run failed or was skipped (no mail content).
	Reason string
}

// Result is the run's outcome.
type Result = State

// ReplySignal says a message arrived in the conversation a run waits on.
type ReplySignal struct {
	MessageID  string
	ReceivedAt time.Time
}
