package reciperun

import "github.com/outlookflow/outlookflow/recipe"

// Plan turns a recipe's steps into the run's plan: IDs, kinds, action names
// and wait durations — what the workflow orchestrates — and nothing the
// steps render from the trigger's data.
func Plan(steps []*recipe.Step) []PlanStep {
	out := make([]PlanStep, 0, len(steps))
	for _, s := range steps {
		p := PlanStep{ID: s.ID}
		switch {
		case s.Wait != nil:
			p.Kind, p.WaitFor, p.WaitReply = KindWait, s.Wait.For, s.Wait.UntilReplyInConversation
		case s.If != nil:
			p.Kind, p.Then, p.Else = KindIf, Plan(s.Then), Plan(s.Else)
		default:
			p.Kind, p.Action = KindAction, s.Action
		}
		out = append(out, p)
	}
	return out
}
