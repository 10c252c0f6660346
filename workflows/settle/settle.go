// Package settle lets a workflow's other coroutines catch up before its
// main loop acts on the state they keep.
package settle

import "go.temporal.io/sdk/workflow"

// Coroutines returns once every coroutine the current workflow task woke
// has run until it blocks again. It matters before continue-as-new: a
// signal delivered in that last task is handed straight to the coroutine
// blocked receiving it (a ReceiveAsync from the main loop finds nothing),
// and that coroutine runs only after the main loop's, which has by then
// encoded the state it hands on — so the signal's effect would be lost.
// Blocking on a coroutine started last lets the dispatcher run the others
// first. It adds no command to the history.
func Coroutines(ctx workflow.Context) error {
	settled := false
	workflow.Go(ctx, func(workflow.Context) { settled = true })
	return workflow.Await(ctx, func() bool { return settled })
}
