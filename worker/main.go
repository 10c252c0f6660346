// Command worker runs outlookflow's Temporal worker: it registers the
// workflows and activities and runs until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	configPath := fs.String("config", os.Getenv("OUTLOOKFLOW_CONFIG"), "configuration file (default $OUTLOOKFLOW_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath, os.Environ())
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.Logging.Level, cfg.Logging.Format, os.Stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	return app.RunWorker(ctx, cfg, log)
}
