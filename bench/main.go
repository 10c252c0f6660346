// Command bench is `make bench`: it measures outlookflow's sync side by side
// with two baselines on the same Graph simulator, in one invocation, and
// prints a table (plus the targets met or missed) and writes one JSON object
// per scenario and system to $BENCH_OUT (default bench/results.json). Two
// recipe scenarios follow (recipes.go): recipe-throughput, runs/s of a
// two-action recipe against bare-temporal (bare.go: a plain two-activity
// workflow making the same Graph calls) on the same dev server, and
// trigger-latency, the polling trigger's latency at the sync interval.
//
// Systems:
//   - outlookflow: the real worker (internal/app.NewWorker) running the
//     SyncRun workflow on a Temporal dev server;
//   - floor: the same sync code (the activities, the Graph adapter, the
//     store) called in-process, one bounded-concurrency loop over every
//     mailbox, no Temporal server, workflow or batches;
//   - naive: what a script author writes: msgraph-sdk-go's page iterator at
//     the default page size, sequential, one INSERT per item; sampled on a
//     few mailboxes and extrapolated linearly (it is sequential).
//
// Each system's sync runs in a child process (this binary re-executed with
// -child), so peak RSS and CPU are the worker's alone: the simulator and
// the Temporal server live elsewhere. Targets missed are reported, not
// fatal; sync errors and stores that do not hold the expected items are.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == childFlag {
		os.Exit(childMain(os.Args[2]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := parseOptions(os.Args[1:], os.LookupEnv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := Run(ctx, opts, os.Stdout); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
