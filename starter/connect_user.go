package main

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/workflows/tenant"
	"github.com/outlookflow/outlookflow/workflows/user"
)

// connectUserCommand signs one user of a delegated tenant in: it starts a
// sign-in workflow on the worker, prints the URL to open (or the device
// code to enter) and waits for the outcome. The tokens stay with the
// worker, sealed in its store.
func (c *cli) connectUserCommand() *cobra.Command {
	var key, upn string
	var deviceCode, asJSON bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "connect-user --tenant KEY --user UPN [--device-code] [--wait 15m]",
		Short: "Sign a user of a delegated tenant in (authorization code with PKCE in a browser, or --device-code) and wait until connected",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if upn == "" && !deviceCode {
				return usageError{errors.New("connect-user needs --user UPN (the user who signs in), or --device-code")}
			}
			if upn != "" {
				if _, err := mail.ParseAddress(upn); err != nil || strings.ContainsAny(upn, " <>") {
					return usageError{fmt.Errorf("--user %q is not a user principal name such as adele@contoso.com", upn)}
				}
			}
			if wait <= 0 {
				return usageError{errors.New("--wait must be a positive duration")}
			}
			t, err := c.configuredTenant(cmd, key)
			if err != nil {
				return err
			}
			if t.AuthMode != config.AuthDelegated {
				return usageError{fmt.Errorf("tenant %q is app-only: connect-user is for delegated tenants (set tenants[].authMode: delegated)", t.Key)}
			}
			flow := user.FlowAuthCode
			if deviceCode {
				if !t.Delegated.DeviceCode {
					return usageError{fmt.Errorf("tenant %q does not allow the device-code flow; set tenants[].delegated.deviceCode: true (and allow public client flows on the app registration)", t.Key)}
				}
				flow = user.FlowDeviceCode
			}
			if err := c.awaitPoller(startupGrace); err != nil {
				return err
			}
			in := user.SignInInput{TenantKey: t.Key, RequestID: newRequestID(), LoginHint: upn, Flow: flow,
				Needed: app.SignInNeeds(c.cfg, t, c.recipeSwitches(t.Key)), VerifyInterval: domain.Duration(t.VerifyInterval)}
			return c.signIn(in, wait, asJSON)
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key (a delegated tenant)")
	cmd.Flags().StringVar(&upn, "user", "", "the user principal name of who signs in; the sign-in is refused for anybody else")
	cmd.Flags().BoolVar(&deviceCode, "device-code", false, "use the device-code flow: enter a code on another device (for terminals without a browser)")
	cmd.Flags().DurationVar(&wait, "wait", 15*time.Minute, "how long to wait for the user to finish signing in")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	return cmd
}

func (c *cli) signIn(in user.SignInInput, wait time.Duration, asJSON bool) error {
	id := user.SignInID(in.TenantKey, in.RequestID)
	ctx, cancel := context.WithTimeout(c.ctx, wait)
	defer cancel()
	run, err := c.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             c.cfg.Temporal.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		StaticSummary:         "sign-in of a user of tenant " + in.TenantKey,
	}, user.SignInWorkflowName, in)
	if err != nil {
		return c.temporalError("starting the sign-in", err)
	}
	// Show the URL (or device prompt) as soon as the worker has it.
	for shown := false; !shown; {
		var p user.SignInProgress
		if v, err := c.temporal.QueryWorkflow(ctx, id, run.GetRunID(), user.QuerySignIn); err == nil {
			_ = v.Get(&p)
		}
		switch {
		case p.URL != "":
			fmt.Fprintf(c.stderr, "Open this URL in a browser and sign in as %s (valid until %s):\n\n", in.LoginHint, p.ExpiresAt.Local().Format("15:04"))
			fmt.Fprintln(c.stdout, p.URL)
			fmt.Fprintln(c.stderr, "\nWaiting for the sign-in…")
			shown = true
		case p.Message != "":
			fmt.Fprintln(c.stdout, p.Message)
			fmt.Fprintln(c.stderr, "Waiting for the sign-in…")
			shown = true
		case p.Done:
			shown = true
		}
		if shown {
			continue
		}
		select {
		case <-ctx.Done():
			return errorf(exitStillRunning, "the sign-in %s did not show a URL within %s; is the worker running? (see `starter status`)", id, wait)
		case <-time.After(300 * time.Millisecond):
		}
	}
	var res user.SignInResult
	if err := run.Get(ctx, &res); err != nil {
		if ctx.Err() != nil {
			return errorf(exitStillRunning, "the user has not finished signing in within %s; the sign-in %s waits on (15 minutes in all) — run connect-user again later if it expires", wait, id)
		}
		return c.temporalError("the sign-in", err)
	}
	if asJSON {
		if err := printJSON(c.stdout, res); err != nil {
			return err
		}
	} else if res.Connected {
		fmt.Fprintf(c.stdout, "%s\t%s\t%s\tscopes: %s\n", res.Username, res.ObjectID, res.Status, strings.Join(res.Scopes, " "))
		if res.Reason != "" {
			fmt.Fprintln(c.stderr, res.Reason)
		}
	}
	if !res.Connected {
		code := res.Code
		if code != "" && code[0] >= '0' && code[0] <= '9' {
			code = "AADSTS" + code
		}
		return errorf(exitNotConnected, "not connected (%s): %s", code, res.Reason)
	}
	if res.Status != user.StatusConnected {
		return exitError{code: exitNotConnected}
	}
	return nil
}

// usersCommand lists a delegated tenant's users and their connection
// status (the same the Web UI filters on: OutlookflowTenant and
// OutlookflowConnectionStatus on UserConnection workflows).
func (c *cli) usersCommand() *cobra.Command {
	var key string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "users --tenant KEY [--json]",
		Short: "List a delegated tenant's users: status (Connected, ReauthRequired with the AADSTS code, MissingScopes, Paused), scopes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := c.configuredTenant(cmd, key)
			if err != nil {
				return err
			}
			views, err := c.userViews(t.Key)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.stdout, views)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tOBJECT ID\tSTATUS\tCODE\tSCOPES\tDETAIL")
			for _, v := range views {
				code := "-"
				if v.Code != "" {
					code = "AADSTS" + strings.TrimPrefix(v.Code, "AADSTS")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", dash(v.Username), v.ObjectID, v.Status, code, dash(strings.Join(v.Scopes, " ")), dash(v.Detail))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(views) == 0 {
				fmt.Fprintf(c.stderr, "no user has signed in yet: starter connect-user --tenant %s --user UPN\n", t.Key)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// userViews queries every running user connection of the tenant.
func (c *cli) userViews(tenantKey string) ([]user.StatusView, error) {
	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	query := fmt.Sprintf("WorkflowType = '%s' AND %s = '%s' AND ExecutionStatus = 'Running'", user.ConnectionWorkflowName, tenant.SearchAttrTenant.GetName(), tenantKey)
	var execs []*workflowpb.WorkflowExecutionInfo
	var token []byte
	for {
		resp, err := c.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return nil, c.temporalError("listing the tenant's users", err)
		}
		execs = append(execs, resp.Executions...)
		if token = resp.NextPageToken; len(token) == 0 {
			break
		}
	}
	var out []user.StatusView
	for _, e := range execs {
		v, err := c.temporal.QueryWorkflow(ctx, e.Execution.WorkflowId, e.Execution.RunId, user.QueryStatus)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			continue // ended between the list and the query
		}
		if err != nil {
			return nil, c.temporalError("asking a user's connection", err)
		}
		var view user.StatusView
		if err := v.Get(&view); err != nil {
			return nil, err
		}
		out = append(out, view)
	}
	return out, nil
}

// recipeSwitches are the operators' recipe switches of a tenant, so a
// sign-in asks for what a recipe enabled by `starter recipes enable` needs
// too; nil (the files' word) when the store cannot be read, said on stderr.
func (c *cli) recipeSwitches(tenantKey string) map[string]bool {
	st, err := app.OpenStore(c.ctx, c.cfg.Store)
	if err == nil {
		defer st.Close()
		var switches map[string]bool
		if switches, err = st.RecipeSwitches(c.ctx, tenantKey); err == nil {
			return switches
		}
	}
	fmt.Fprintf(c.stderr, "The store is unreachable (%s): the sign-in asks for what the recipes' files enable, without operators' switches.\n", firstLine(err.Error()))
	return nil
}
