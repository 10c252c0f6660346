package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/codec"
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
	ring     codec.Keyring
	failures converter.FailureConverter // decodes failures read from Describe calls
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
	root.AddCommand(c.connectCommand(), c.statusCommand(), c.scopesCommand(), c.pauseCommand(), c.resumeCommand(), c.verifyCommand(), c.rotateCommand(), c.rotateKeysCommand(), c.syncCommand(), c.messagesCommand(), c.eventsCommand(), c.recipesCommand(), c.connectUserCommand(), c.usersCommand())
	return root
}

// loadConfig reads the configuration and the encryption keys.
func (c *cli) loadConfig() error {
	if c.cfg != nil {
		return nil
	}
	if c.configPath == "" {
		// Without a file there are no tenants and no encryption keys, so
		// every later message would be about the symptom, not the cause.
		return usageError{fmt.Errorf("no configuration file: set %s or pass --config FILE (make demo writes .demo/config.yaml; config/example.yaml is the reference)", config.EnvConfigPath)}
	}
	cfg, err := config.Load(c.configPath, c.environ)
	if err != nil {
		return err
	}
	if c.ring, err = app.Keyring(cfg); err != nil {
		return err
	}
	if c.failures, err = codec.NewFailureConverter(c.ring); err != nil {
		return err
	}
	c.cfg = cfg
	return nil
}

// load reads the configuration and connects to Temporal.
func (c *cli) load() error {
	if c.temporal != nil {
		return nil
	}
	if err := c.loadConfig(); err != nil {
		return err
	}
	cfg := c.cfg
	// The starter logs only warnings: its output is for people and scripts.
	log, err := logging.New("warn", "console", c.stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, dialTimeout)
	defer cancel()
	tc, err := app.DialWithKeyring(ctx, cfg, c.ring, log)
	var unreachable *app.TemporalUnreachableError
	switch {
	case err == nil:
	case c.ctx.Err() == nil && errors.As(err, &unreachable):
		return errorf(exitTemporalUnreachable, "Temporal at %s (namespace %s) is unreachable: %s; start it (`make temporal` or `make demo` on this machine) or point temporal.address at it",
			cfg.Temporal.Address, cfg.Temporal.Namespace, firstLine(unreachable.Err.Error()))
	default:
		return err
	}
	c.temporal = tc
	return nil
}

// dialTimeout bounds connecting to Temporal: a server that is not there must
// not leave the operator staring at a silent terminal.
const dialTimeout = 10 * time.Second

// positiveWait rejects a --wait that could never be met.
func positiveWait(wait time.Duration) error {
	if wait <= 0 {
		return usageError{fmt.Errorf("--wait must be a positive duration such as 90s or 5m, not %s", wait)}
	}
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
			if err := positiveWait(wait); err != nil {
				return err
			}
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
				return c.temporalError(fmt.Sprintf("starting the connection workflow for %q", key), err)
			}
			fmt.Fprintf(c.stdout, "Connection workflow %s (run %s) for tenant %q.\n", run.GetID(), run.GetRunID(), key)
			// The settings update makes config edits reach a workflow that
			// was already running, and answers once the tenant is verified.
			view, err := c.sendUpdate(key, tenant.UpdateSettings, app.TenantSettings(t), wait)
			if err != nil {
				return err
			}
			if err := c.printViews([]statusRow{{StatusView: view}}); err != nil {
				return err
			}
			if view.Status == tenant.StatusAwaitingUsers {
				// A delegated tenant is ready: its users connect next.
				fmt.Fprintf(c.stderr, "Now sign its users in: starter connect-user --tenant %s --user UPN\n", key)
				return nil
			}
			if view.Status != tenant.StatusConnected {
				return exitError{code: exitNotConnected}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key from the configuration")
	cmd.Flags().DurationVar(&wait, "wait", updateTimeout, "how long to wait for the first verification")
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
			return nil, c.temporalError("listing tenant workflows", err)
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
		return view, c.temporalError(fmt.Sprintf("querying tenant %q", key), err)
	}
	return view, resp.Get(&view)
}

// statusRow is one tenant in `starter status`: the workflow's own answer,
// plus the server's view of a check that is running.
type statusRow struct {
	tenant.StatusView
	Check *checkProgress `json:"Check,omitempty"`
	// credentialExpiry is read from the configuration (expiry.go); its
	// fields appear at the top level of --json.
	credentialExpiry
}

// tenantRow builds one tenant's row. A tenant whose query goes unanswered
// still gets a row: what the server knows, and why nobody answered.
func (c *cli) tenantRow(key string) (statusRow, error) {
	view, err := c.queryStatus(key)
	var ee exitError
	switch {
	case errors.As(err, &ee) && ee.code == exitNotFound:
		return statusRow{StatusView: tenant.StatusView{TenantKey: key, Status: "NotConnected", Detail: "run 'starter connect --tenant " + key + "'"}}, err
	case errors.As(err, &ee) && ee.code == exitTemporalUnreachable, c.ctx.Err() != nil:
		return statusRow{}, err
	}
	row := statusRow{StatusView: view}
	if err != nil {
		// Keep going: the other tenants' rows are still worth printing.
		row.StatusView = tenant.StatusView{TenantKey: key, Status: "NoAnswer", Detail: c.whyNoAnswer(err)}
	}
	if err != nil || view.CheckInProgress {
		check, cerr := c.checkInProgress(c.ctx, key)
		if errors.As(cerr, &ee) && ee.code == exitTemporalUnreachable {
			return statusRow{}, cerr
		}
		row.Check = check
	}
	return row, nil
}

// whyNoAnswer explains an unanswered status query by who polls the queue.
func (c *cli) whyNoAnswer(queryErr error) string {
	p, err := c.taskQueuePollers(c.ctx)
	switch {
	case err != nil:
		return fmt.Sprintf("no answer within %s (%v)", queryTimeout, queryErr)
	case p.alive == 0:
		var ee exitError
		_ = errors.As(c.noWorkerError(p), &ee)
		return ee.msg
	default:
		return fmt.Sprintf("%d worker(s) poll task queue %q but none answered within %s; see the worker's log (%v)", p.alive, c.cfg.Temporal.TaskQueue, queryTimeout, queryErr)
	}
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
			var rows []statusRow
			now := time.Now()
			for _, k := range keys {
				row, err := c.tenantRow(k)
				var ee exitError
				switch {
				case errors.As(err, &ee) && ee.code == exitNotFound:
					missing++
				case err != nil:
					return err
				}
				if t, cerr := c.tenantConfig(k); cerr == nil {
					row.credentialExpiry = tenantCredentialExpiry(t, now, config.EnvLookup(c.environ))
				}
				rows = append(rows, row)
			}
			if asJSON {
				if err := printJSON(c.stdout, rows); err != nil {
					return err
				}
			} else if err := c.printViews(rows); err != nil {
				return err
			} else {
				printCredentialWarnings(c.stdout, rows)
			}
			if key != "" && missing > 0 {
				return exitError{code: exitNotFound}
			}
			for _, v := range rows {
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
func (c *cli) updateCommand(use, short, updateName string, expectConnected bool, flags func(*cobra.Command), arg func(key string) (any, error)) *cobra.Command {
	var key string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := positiveWait(wait); err != nil {
				return err
			}
			if _, err := c.configuredTenant(cmd, key); err != nil {
				return err
			}
			req, err := arg(key)
			if err != nil {
				return err
			}
			view, err := c.sendUpdate(key, updateName, req, wait)
			if err != nil {
				return err
			}
			if err := c.printViews([]statusRow{{StatusView: view}}); err != nil {
				return err
			}
			if expectConnected && view.Status != tenant.StatusConnected {
				return exitError{code: exitNotConnected}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key from the configuration")
	cmd.Flags().DurationVar(&wait, "wait", updateTimeout, "how long to wait for the tenant's answer (a check retrying through throttling can take minutes)")
	if flags != nil {
		flags(cmd)
	}
	return cmd
}

// updateTimeout is the default --wait: how long an update waits for its answer.
const updateTimeout = 2 * time.Minute

// acceptTimeout bounds how long a worker may take to accept an update. A
// live worker accepts (or rejects) within a workflow task, well inside it;
// past it the question is whether any worker is there at all.
const acceptTimeout = 15 * time.Second

// sendUpdate sends one update to the tenant's workflow and waits up to wait
// for its answer. When no answer comes it says why, with a distinct exit
// code: no worker polls the task queue (6), or the worker accepted the
// request and the check it waits for is still running (7, with the attempt
// and last failure); Temporal itself being unreachable is 5.
func (c *cli) sendUpdate(key, updateName string, req any, wait time.Duration) (tenant.StatusView, error) {
	var view tenant.StatusView
	deadline := time.Now().Add(wait)
	// Nobody polling: say so now rather than after the whole wait, once a
	// worker that is just starting has had a moment to show up.
	if err := c.awaitPoller(min(wait, startupGrace)); err != nil {
		return view, err
	}
	acceptCtx, cancelAccept := context.WithTimeout(c.ctx, min(wait, acceptTimeout))
	defer cancelAccept()
	handle, err := c.temporal.UpdateWorkflow(acceptCtx, client.UpdateWorkflowOptions{
		WorkflowID:   tenant.WorkflowID(key),
		UpdateName:   updateName,
		Args:         []any{req},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	if err != nil {
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			return view, noWorkflow(key)
		case c.ctx.Err() != nil:
			return view, err
		case acceptCtx.Err() != nil || updateWaitTimedOut(err):
			return view, c.notAccepted(key, updateName)
		default:
			return view, c.temporalError(fmt.Sprintf("%s for tenant %q", updateName, key), err)
		}
	}
	doneCtx, cancelDone := context.WithDeadline(c.ctx, deadline)
	defer cancelDone()
	err = handle.Get(doneCtx, &view)
	switch {
	case err == nil:
		return view, nil
	case c.ctx.Err() != nil:
		return view, err
	case doneCtx.Err() != nil || updateWaitTimedOut(err):
		return view, c.stillRunning(key, updateName, wait)
	default:
		return view, c.temporalError(fmt.Sprintf("%s for tenant %q", updateName, key), err)
	}
}

// updateWaitTimedOut is whether the SDK gave up waiting on an update
// because our deadline came. The SDK sets the gRPC deadline a little ahead
// of the context's, so the call can fail ("RST_STREAM … CANCEL", "deadline
// exceeded") while ctx.Err() is still nil: checking the context alone turned
// an honest "still running" (7) into a raw failure (1) now and then.
func updateWaitTimedOut(err error) bool {
	var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
	return errors.As(err, &timeout)
}

// startupGrace is how long an update waits for a first poller: a worker
// started a moment ago (as `make demo` does) registers before it polls.
const startupGrace = 10 * time.Second

// awaitPoller returns once a worker polls the task queue, or exit 6 after grace.
func (c *cli) awaitPoller(grace time.Duration) error {
	until := time.Now().Add(grace)
	for {
		p, err := c.taskQueuePollers(c.ctx)
		if err != nil || p.alive > 0 {
			return err
		}
		if time.Now().After(until) {
			return c.noWorkerError(p)
		}
		select {
		case <-c.ctx.Done():
			return c.ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// notAccepted explains an update no worker took: nobody polls (6), or
// pollers exist but did not answer (6 as well: no worker is serving).
func (c *cli) notAccepted(key, updateName string) error {
	p, err := c.taskQueuePollers(c.ctx)
	if err != nil {
		return err
	}
	if p.alive == 0 {
		return c.noWorkerError(p)
	}
	return errorf(exitNoWorker, "tenant %q: no worker accepted %s within %s although %d poll task queue %q; a worker that just died still counts as polling for about a minute, so check that outlookflow-worker runs and see its log",
		key, updateName, acceptTimeout, p.alive, c.cfg.Temporal.TaskQueue)
}

// stillRunning explains an accepted update that did not finish: the check it
// waits for is still going, and the server says how (7).
func (c *cli) stillRunning(key, updateName string, wait time.Duration) error {
	why := "the check has not finished"
	if check, err := c.checkInProgress(c.ctx, key); err != nil {
		return err
	} else if check != nil {
		why = check.String()
	}
	return errorf(exitStillRunning, "tenant %q: the worker accepted %s, and after %s the check is still running: %s. It goes on without you; `starter status --tenant %s` shows its outcome (or pass a longer --wait)",
		key, updateName, wait, why, key)
}

func (c *cli) pauseCommand() *cobra.Command {
	var reason string
	return c.updateCommand("pause --tenant KEY", "Pause a tenant: no verification (and later no sync or recipes) until resumed",
		tenant.UpdatePause, false,
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&reason, "reason", "", fmt.Sprintf("why, shown in status (at most %d characters)", tenant.MaxPauseReasonLength))
		},
		func(string) (any, error) {
			if n := utf8.RuneCountInString(reason); n > tenant.MaxPauseReasonLength {
				return nil, usageError{fmt.Errorf("--reason is %d characters; keep it to %d", n, tenant.MaxPauseReasonLength)}
			}
			return tenant.PauseRequest{Reason: reason}, nil
		})
}

func (c *cli) resumeCommand() *cobra.Command {
	return c.updateCommand("resume --tenant KEY", "Resume a paused tenant and verify it at once", tenant.UpdateResume, true, nil,
		func(string) (any, error) { return tenant.ResumeRequest{}, nil })
}

func (c *cli) verifyCommand() *cobra.Command {
	return c.updateCommand("verify --tenant KEY", "Re-verify a tenant's credentials and permissions now", tenant.UpdateVerifyNow, true, nil,
		func(string) (any, error) { return tenant.VerifyNowRequest{}, nil })
}

func (c *cli) rotateCommand() *cobra.Command {
	var fromStdin bool
	return c.updateCommand("rotate --tenant KEY [--secret-stdin]",
		"Tell the tenant its credentials changed: re-read the configured secret, or seal a new one from stdin into the credential directory",
		tenant.UpdateRotateCredentials, true,
		func(cmd *cobra.Command) {
			cmd.Flags().BoolVar(&fromStdin, "secret-stdin", false, "read the new client secret from standard input (never pass secrets as arguments); it is sealed into credentials.dir, which the worker must share, and only its version reaches Temporal")
		},
		func(key string) (any, error) {
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
			vault, err := app.OpenVault(c.cfg, c.ring)
			if err != nil {
				return nil, err
			}
			version, err := vault.Put(key, secret)
			if err != nil {
				return nil, fmt.Errorf("storing the secret in %s: %w", vault.Dir(), err)
			}
			fmt.Fprintf(c.stdout, "Sealed the new secret for %q in %s as version %s.\n", key, vault.Dir(), version)
			return tenant.RotateCredentialsRequest{CredentialVersion: version}, nil
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
