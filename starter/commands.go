package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/logging"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// cli holds what every subcommand needs; built lazily so `--help` and usage
// errors work without a config or a server.
type cli struct {
	ctx        context.Context
	configPath string
	environ    []string
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer

	cfg      *config.Config
	temporal client.Client
}

// Run executes the starter with args and returns the process exit code. It
// never calls os.Exit, so tests drive it directly.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	c := &cli{ctx: ctx, environ: environ, stdin: stdin, stdout: stdout, stderr: stderr}
	defer c.close()
	root := c.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "starter:", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "starter:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintln(stderr, "Run 'starter --help' for usage.")
		return exitUsage
	}
	return exitFailure
}

// isCobraUsage recognises cobra's own flag and argument errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (c *cli) close() {
	if c.temporal != nil {
		c.temporal.Close()
	}
}

func (c *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "starter",
		Short:         "Operate outlookflow: connect tenants, show their status, pause and resume them",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defaultConfig := lookup(c.environ, "OUTLOOKFLOW_CONFIG")
	root.PersistentFlags().StringVar(&c.configPath, "config", defaultConfig, "configuration file (default $OUTLOOKFLOW_CONFIG)")
	root.AddCommand(c.connectCommand(), c.statusCommand(), c.scopesCommand(), c.pauseCommand(), c.resumeCommand(), c.verifyCommand(), c.rotateCommand())
	return root
}

// load reads the configuration and connects to Temporal.
func (c *cli) load() error {
	if c.temporal != nil {
		return nil
	}
	cfg, err := config.Load(c.configPath, c.environ)
	if err != nil {
		return err
	}
	c.cfg = cfg
	// The starter logs only warnings: its output is for people and scripts.
	log, err := logging.New("warn", "console", c.stderr)
	if err != nil {
		return err
	}
	tc, err := app.DialTemporal(c.ctx, cfg, log)
	if err != nil {
		return err
	}
	c.temporal = tc
	return nil
}

func (c *cli) tenantConfig(key string) (config.Tenant, error) {
	for _, t := range c.cfg.Tenants {
		if t.Key == key {
			return t, nil
		}
	}
	known := make([]string, 0, len(c.cfg.Tenants))
	for _, t := range c.cfg.Tenants {
		known = append(known, t.Key)
	}
	return config.Tenant{}, errorf(exitNotFound, "tenant %q is not configured (configured: %s); add it under tenants: in the config file", key, strings.Join(known, ", "))
}

// configuredTenant checks --tenant was given, loads the configuration,
// connects to Temporal and returns the tenant's settings.
func (c *cli) configuredTenant(cmd *cobra.Command, key string) (config.Tenant, error) {
	if key == "" {
		return config.Tenant{}, usageError{fmt.Errorf("%s needs --tenant KEY", cmd.CommandPath())}
	}
	if err := c.load(); err != nil {
		return config.Tenant{}, err
	}
	return c.tenantConfig(key)
}

// noWorkflow is the error for a configured tenant that was never connected.
func noWorkflow(key string) error {
	return errorf(exitNotFound, "tenant %q has no connection workflow; run 'starter connect --tenant %s'", key, key)
}

func (c *cli) connectCommand() *cobra.Command {
	var key string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "connect --tenant KEY",
		Short: "Start (or find) the tenant's connection workflow and wait for its first verification",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := c.configuredTenant(cmd, key)
			if err != nil {
				return err
			}
			run, err := c.temporal.ExecuteWorkflow(c.ctx, client.StartWorkflowOptions{
				ID:                       tenant.WorkflowID(key),
				TaskQueue:                c.cfg.Temporal.TaskQueue,
				WorkflowIDConflictPolicy: enumsUseExisting,
				TypedSearchAttributes:    initialSearchAttributes(key),
			}, tenant.WorkflowName, app.TenantInput(t))
			if err != nil {
				return fmt.Errorf("starting the connection workflow for %q: %w", key, err)
			}
			fmt.Fprintf(c.stdout, "Connection workflow %s (run %s) for tenant %q.\n", run.GetID(), run.GetRunID(), key)
			// The settings update makes config edits reach a workflow that
			// was already running, and answers once the tenant is verified.
			view, err := c.sendUpdate(key, tenant.UpdateSettings, app.TenantSettings(t), wait)
			if err != nil {
				return err
			}
			if err := c.printViews([]tenant.StatusView{view}); err != nil {
				return err
			}
			if view.Status != tenant.StatusConnected {
				return exitError{code: exitNotConnected}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key from the configuration")
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the first verification")
	return cmd
}

// runningUnconfiguredTenants lists, through visibility, tenant keys whose
// connection workflow runs but which the configuration no longer has.
func (c *cli) runningUnconfiguredTenants() ([]string, error) {
	configured := map[string]bool{}
	for _, t := range c.cfg.Tenants {
		configured[t.Key] = true
	}
	query := fmt.Sprintf("WorkflowType = %q AND ExecutionStatus = 'Running'", tenant.WorkflowName)
	var orphans []string
	var token []byte
	for {
		resp, err := c.temporal.ListWorkflow(c.ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("listing tenant workflows: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			key, ok := strings.CutPrefix(e.GetExecution().GetWorkflowId(), tenant.WorkflowID(""))
			if ok && key != "" && !configured[key] {
				configured[key] = true // once per key
				orphans = append(orphans, key)
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	sort.Strings(orphans)
	return orphans, nil
}

// queryTimeout bounds one status query: a query needs a worker to answer,
// and one tenant whose worker is down must not hang the whole table.
const queryTimeout = 10 * time.Second

func (c *cli) queryStatus(key string) (tenant.StatusView, error) {
	var view tenant.StatusView
	ctx, cancel := context.WithTimeout(c.ctx, queryTimeout)
	defer cancel()
	resp, err := c.temporal.QueryWorkflow(ctx, tenant.WorkflowID(key), "", tenant.QueryStatus)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return view, noWorkflow(key)
		}
		return view, fmt.Errorf("querying tenant %q: %w", key, err)
	}
	return view, resp.Get(&view)
}

func (c *cli) statusCommand() *cobra.Command {
	var key string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--tenant KEY]",
		Short: "Show the connection status of one tenant or of every configured tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.load(); err != nil {
				return err
			}
			var views []tenant.StatusView
			var keys []string
			if key != "" {
				if _, err := c.tenantConfig(key); err != nil {
					return err
				}
				keys = []string{key}
			} else {
				for _, t := range c.cfg.Tenants {
					keys = append(keys, t.Key)
				}
				// Tenants still running but no longer configured show up too:
				// their checks report Misconfigured until stopped or re-added.
				orphans, err := c.runningUnconfiguredTenants()
				if err != nil {
					return err
				}
				keys = append(keys, orphans...)
			}
			missing := 0
			for _, k := range keys {
				view, err := c.queryStatus(k)
				var ee exitError
				if errors.As(err, &ee) && ee.code == exitNotFound {
					missing++
					views = append(views, tenant.StatusView{TenantKey: k, Status: "NotConnected", Detail: "run 'starter connect --tenant " + k + "'"})
					continue
				}
				if err != nil {
					if c.ctx.Err() != nil {
						return err
					}
					// Keep going: the other tenants' rows are still worth printing.
					views = append(views, tenant.StatusView{TenantKey: k, Status: "NoAnswer",
						Detail: fmt.Sprintf("no answer within %s; is a worker polling task queue %q? (%v)", queryTimeout, c.cfg.Temporal.TaskQueue, err)})
					continue
				}
				views = append(views, view)
			}
			if asJSON {
				if err := printJSON(c.stdout, views); err != nil {
					return err
				}
			} else if err := c.printViews(views); err != nil {
				return err
			}
			if key != "" && missing > 0 {
				return exitError{code: exitNotFound}
			}
			for _, v := range views {
				if v.Status != tenant.StatusConnected {
					return exitError{code: exitNotConnected}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key (default: every configured tenant)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

// updateCommand builds pause/resume/verify/rotate, which all send one update
// to the tenant's workflow and print the status it answers with.
// With expectConnected, a tenant left in any other status exits 3, like status.
func (c *cli) updateCommand(use, short, updateName string, expectConnected bool, flags func(*cobra.Command), arg func() (any, error)) *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := c.configuredTenant(cmd, key); err != nil {
				return err
			}
			req, err := arg()
			if err != nil {
				return err
			}
			view, err := c.sendUpdate(key, updateName, req, updateTimeout)
			if err != nil {
				return err
			}
			if err := c.printViews([]tenant.StatusView{view}); err != nil {
				return err
			}
			if expectConnected && view.Status != tenant.StatusConnected {
				return exitError{code: exitNotConnected}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key from the configuration")
	if flags != nil {
		flags(cmd)
	}
	return cmd
}

// updateTimeout bounds how long an update waits for the worker to answer.
const updateTimeout = 2 * time.Minute

// sendUpdate sends one update to the tenant's workflow and waits up to wait
// for its answer.
func (c *cli) sendUpdate(key, updateName string, req any, wait time.Duration) (tenant.StatusView, error) {
	var view tenant.StatusView
	ctx, cancel := context.WithTimeout(c.ctx, wait)
	defer cancel()
	handle, err := c.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   tenant.WorkflowID(key),
		UpdateName:   updateName,
		Args:         []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = handle.Get(ctx, &view)
	}
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		return view, nil
	case errors.As(err, &nf):
		return view, noWorkflow(key)
	case ctx.Err() != nil && c.ctx.Err() == nil:
		return view, errorf(exitNotConnected, "tenant %q did not answer %s within %s; is the worker running on task queue %q?", key, updateName, wait, c.cfg.Temporal.TaskQueue)
	default:
		return view, fmt.Errorf("%s for tenant %q: %w", updateName, key, err)
	}
}

func (c *cli) pauseCommand() *cobra.Command {
	var reason string
	return c.updateCommand("pause --tenant KEY", "Pause a tenant: no verification (and later no sync or recipes) until resumed",
		tenant.UpdatePause, false,
		func(cmd *cobra.Command) { cmd.Flags().StringVar(&reason, "reason", "", "why, shown in status") },
		func() (any, error) { return tenant.PauseRequest{Reason: reason}, nil })
}

func (c *cli) resumeCommand() *cobra.Command {
	return c.updateCommand("resume --tenant KEY", "Resume a paused tenant and verify it at once", tenant.UpdateResume, true, nil,
		func() (any, error) { return tenant.ResumeRequest{}, nil })
}

func (c *cli) verifyCommand() *cobra.Command {
	return c.updateCommand("verify --tenant KEY", "Re-verify a tenant's credentials and permissions now", tenant.UpdateVerifyNow, true, nil,
		func() (any, error) { return tenant.VerifyNowRequest{}, nil })
}

func (c *cli) rotateCommand() *cobra.Command {
	var fromStdin bool
	return c.updateCommand("rotate --tenant KEY [--secret-stdin]",
		"Tell the tenant its credentials changed: re-read the configured secret, or take a new one from stdin",
		tenant.UpdateRotateCredentials, true,
		func(cmd *cobra.Command) {
			cmd.Flags().BoolVar(&fromStdin, "secret-stdin", false, "read the new client secret from standard input (never pass secrets as arguments)")
		},
		func() (any, error) {
			if !fromStdin {
				return tenant.RotateCredentialsRequest{}, nil
			}
			raw, err := io.ReadAll(io.LimitReader(c.stdin, 4096))
			if err != nil {
				return nil, fmt.Errorf("reading the secret from stdin: %w", err)
			}
			secret := strings.TrimSpace(string(raw))
			if secret == "" {
				return nil, usageError{errors.New("--secret-stdin given but standard input was empty")}
			}
			return tenant.RotateCredentialsRequest{NewSecret: secret}, nil
		})
}

func lookup(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}
