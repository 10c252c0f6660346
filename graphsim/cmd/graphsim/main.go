// Command graphsim runs the Microsoft Graph and identity platform simulator
// until SIGINT or SIGTERM, for the demo and for scripts that drive it through
// its control API (see graphsim/README.md).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/outlookflow/outlookflow/graphsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "graphsim:", err)
		os.Exit(1)
	}
}

// credentialsFile is what --credentials-out writes: enough for a demo
// config to connect, with the secret both inline and in its own file so the
// config can reference it as secret.file.
type credentialsFile struct {
	TenantID          string   `json:"tenantId"`
	ClientID          string   `json:"clientId"`
	ClientSecret      string   `json:"clientSecret"`
	ClientSecretFile  string   `json:"clientSecretFile"`
	AuthorityHost     string   `json:"authorityHost"`
	GraphBaseURL      string   `json:"graphBaseURL"`
	AllowedGraphHosts []string `json:"allowedGraphHosts"`
	CAFile            string   `json:"caFile"`
}

// run starts the simulator and blocks until ctx is done.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("graphsim", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:8443", "listen address")
	stateDir := fs.String("state-dir", "./.graphsim", "directory for ca.pem")
	hostname := fs.String("hostname", "localhost", "host name used in URLs and the certificate")
	seed := fs.String("seed", "demo", "initial state: demo, none, or large:MAILBOXES:MESSAGES[:EVENTS] (a generated tenant)")
	mailboxLimits := fs.Bool("mailbox-limits", false, "enforce Graph's per-(app, mailbox) limits: 4 concurrent requests, 10,000 per 10 minutes (429 TooManyRequests beyond)")
	latFixed := fs.Duration("latency-fixed", 0, "simulated latency added to every Graph request, e.g. 50ms")
	latPerItem := fs.Duration("latency-per-item", 0, "simulated latency per item of a returned collection page, e.g. 100us")
	latIdentity := fs.Bool("latency-identity", false, "apply --latency-fixed to identity-platform requests too")
	credsOut := fs.String("credentials-out", "", "write the demo tenant's credentials (JSON) to this file, mode 0600; the secret also goes to FILE.secret")
	grant := fs.String("grant", "", "extra application permissions for the demo app, comma-separated (e.g. Mail.ReadWrite,Calendars.ReadWrite: what the demo's example recipes act with)")
	verbose := fs.Bool("v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	large, isLarge, err := parseLargeSeed(*seed)
	if err != nil {
		return err
	}
	if *seed != "demo" && *seed != "none" && !isLarge {
		return fmt.Errorf("--seed must be demo, none or large:MAILBOXES:MESSAGES[:EVENTS], not %q", *seed)
	}
	if *grant != "" && *seed != "demo" {
		return errors.New("--grant needs --seed demo (the demo app is what it grants to)")
	}
	if *credsOut != "" && *seed == "none" {
		return errors.New("--credentials-out needs --seed demo or --seed large:MAILBOXES:MESSAGES")
	}

	level := zapcore.InfoLevel
	if *verbose {
		level = zapcore.DebugLevel
	}
	logCfg := zap.NewDevelopmentConfig()
	logCfg.Level = zap.NewAtomicLevelAt(level)
	logCfg.DisableStacktrace = true
	logger, err := logCfg.Build()
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // stderr sync errors are not actionable

	opts := graphsim.Options{Addr: *addr, StateDir: *stateDir, Hostname: *hostname, Logger: logger,
		LatencyFixed: *latFixed, LatencyPerItem: *latPerItem, LatencyIdentity: *latIdentity}
	if *mailboxLimits {
		opts.MailboxConcurrencyLimit = graphsim.GraphMailboxLimits.Concurrency
		opts.MailboxRequestLimit = graphsim.GraphMailboxLimits.Requests
		opts.MailboxRequestWindow = graphsim.GraphMailboxLimits.Window
	}
	sim, err := graphsim.Start(opts)
	if err != nil {
		return err
	}
	defer sim.Close()

	fmt.Fprintf(stdout, "graphsim listening\n")
	fmt.Fprintf(stdout, "  authority host:  %s\n", sim.AuthorityHost())
	fmt.Fprintf(stdout, "  graph base URL:  %s\n", sim.GraphBaseURL())
	fmt.Fprintf(stdout, "  allowed host:    %s\n", sim.Hostname())
	fmt.Fprintf(stdout, "  CA file:         %s\n", sim.CAFile())
	fmt.Fprintf(stdout, "  control API:     %s/_sim/v1/\n", sim.URL())

	if *seed != "none" {
		var creds graphsim.DemoCredentials
		if isLarge {
			creds, err = sim.SeedLarge(large)
			fmt.Fprintf(stdout, "  large tenant:    %d mailboxes x %d messages, %d events each\n", large.Mailboxes, large.MessagesPerMailbox, large.EventsPerMailbox)
		} else {
			creds, err = sim.SeedDemo()
		}
		if err != nil {
			return err
		}
		if *grant != "" {
			if err := grantMore(sim, creds, strings.Split(*grant, ",")); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "  demo tenant ID:  %s\n", creds.TenantID)
		fmt.Fprintf(stdout, "  demo client ID:  %s\n", creds.ClientID)
		if *credsOut != "" {
			if err := writeCredentials(*credsOut, sim, creds); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "  credentials:     %s (secret in %s.secret)\n", *credsOut, *credsOut)
		}
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "graphsim stopping")
	return nil
}

// parseLargeSeed reads --seed large:MAILBOXES:MESSAGES[:EVENTS].
func parseLargeSeed(v string) (graphsim.LargeSeed, bool, error) {
	rest, ok := strings.CutPrefix(v, "large:")
	if !ok {
		return graphsim.LargeSeed{}, false, nil
	}
	parts := strings.Split(rest, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return graphsim.LargeSeed{}, false, fmt.Errorf("--seed %q: want large:MAILBOXES:MESSAGES[:EVENTS]", v)
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return graphsim.LargeSeed{}, false, fmt.Errorf("--seed %q: %q is not a count", v, p)
		}
		n[i] = x
	}
	if n[0] < 1 {
		return graphsim.LargeSeed{}, false, fmt.Errorf("--seed %q: at least one mailbox", v)
	}
	return graphsim.LargeSeed{Mailboxes: n[0], MessagesPerMailbox: n[1], EventsPerMailbox: n[2], Folders: 3}, true, nil
}

func writeCredentials(path string, sim *graphsim.Server, creds graphsim.DemoCredentials) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	secretPath := abs + ".secret"
	if err := writePrivate(secretPath, []byte(creds.ClientSecret)); err != nil {
		return err
	}
	b, err := json.MarshalIndent(credentialsFile{
		TenantID:          creds.TenantID,
		ClientID:          creds.ClientID,
		ClientSecret:      creds.ClientSecret,
		ClientSecretFile:  secretPath,
		AuthorityHost:     sim.AuthorityHost(),
		GraphBaseURL:      sim.GraphBaseURL(),
		AllowedGraphHosts: []string{sim.Hostname()},
		CAFile:            sim.CAFile(),
	}, "", "  ")
	if err != nil {
		return err
	}
	return writePrivate(abs, append(b, '\n'))
}

// writePrivate writes a file readable by its owner only, replacing any
// earlier one (os.WriteFile keeps the mode of an existing file).
func writePrivate(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".graphsim-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// grantMore adds application permissions to the seeded app's grant, as an
// admin granting consent to more would.
func grantMore(sim *graphsim.Server, creds graphsim.DemoCredentials, extra []string) error {
	seed, _ := graphsim.DemoTenant()
	roles := append([]string(nil), seed.Apps[0].GrantedRoles...)
	for _, r := range extra {
		if r = strings.TrimSpace(r); r != "" && !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	return sim.SetGrantedRoles(creds.TenantID, creds.ClientID, roles)
}
