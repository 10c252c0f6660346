package recipe

// MatchRequested decides whether r runs on in when an operator asks for it
// on one item (`starter recipes run --item`): the request stands in for
// the trigger, so the trigger's own check (a new message, a flag that was
// just set…) is not asked, but the mailbox, the filters and the condition
// are, as for a change. changeKey names the request; the run's ID differs
// from any run the item's own changes start.
func MatchRequested(r *Recipe, in Input, changeKey string) Decision {
	d := Decision{Recipe: r.Name, Enabled: r.Enabled}
	d.Trigger = pass("trigger", "run by an operator on this item")
	d.Mailbox = matchMailbox(r, in)
	d.RunID = RunID(r.Tenant, r.Name, itemID(r, in), changeKey)
	d.Filters = matchFilters(r, in)
	d.Condition = evalCondition(r, in)
	d.Fire = fires(d)
	return d
}
