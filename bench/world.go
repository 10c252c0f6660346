package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/testenv"
)

// world is what every system syncs against: one Temporal dev server and
// one Graph simulator, both in or under the parent process, never counted
// in a system's CPU or RSS.
type world struct {
	o        Options
	dir      string
	temporal *testenv.Temporal
	tclient  client.Client // reads histories; no data converter needed
	sim      *graphsim.Server
	keyFile  string
	tlog     io.Closer
	seq      int
	// bigTokenCache: the simulator was told to keep enough delta tokens.
	bigTokenCache bool
}

func startWorld(ctx context.Context, o Options, dir string) (*world, error) {
	w := &world{o: o, dir: dir}
	var logTo io.Writer
	if o.TemporalLog != "" {
		f, err := os.Create(o.TemporalLog)
		if err != nil {
			return nil, err
		}
		w.tlog, logTo = f, f
	}
	t, err := testenv.StartTemporal(ctx, logTo)
	if err != nil {
		w.close()
		return nil, err
	}
	w.temporal = t
	c, err := client.DialContext(ctx, client.Options{HostPort: t.HostPort, Namespace: t.Namespace, Logger: quietLogger{}})
	if err != nil {
		w.close()
		return nil, err
	}
	w.tclient = c
	opts := graphsim.Options{StateDir: filepath.Join(dir, "graphsim")}
	if o.MailboxLimits {
		opts.MailboxConcurrencyLimit = graphsim.GraphMailboxLimits.Concurrency
		opts.MailboxRequestLimit = graphsim.GraphMailboxLimits.Requests
		opts.MailboxRequestWindow = graphsim.GraphMailboxLimits.Window
	}
	if w.sim, err = graphsim.Start(opts); err != nil {
		w.close()
		return nil, err
	}
	// Every folder of every mailbox holds a delta token between cycles: a
	// 10,000-mailbox tenant needs ~90,000 per system. A simulator that can
	// keep more than its default 50,000 is told to; one that cannot turns
	// part of idle-10k into resyncs, which the rows then report (lost).
	if c, ok := any(w.sim).(interface{ SetMaxSyncStates(int) }); ok {
		c.SetMaxSyncStates(2_000_000)
		w.bigTokenCache = true
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		w.close()
		return nil, err
	}
	w.keyFile = filepath.Join(dir, "payload.key")
	if err := os.WriteFile(w.keyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *world) close() {
	if w.sim != nil {
		_ = w.sim.Close()
	}
	if w.tclient != nil {
		w.tclient.Close()
	}
	if w.temporal != nil {
		_ = w.temporal.Stop()
	}
	if w.tlog != nil {
		_ = w.tlog.Close()
	}
}

// latency switches the simulator's latency model on (the 50 ms +
// 0.1 ms per item) or off.
func (w *world) latency(on bool) {
	if on {
		w.sim.SetLatency(graphsim.Latency{Fixed: w.o.LatencyFixed, PerItem: w.o.LatencyPerItem})
	} else {
		w.sim.SetLatency(graphsim.Latency{})
	}
}

// benchTenant is a generated tenant and what the bench knows about it.
type benchTenant struct {
	key       string
	seed      graphsim.LargeSeed
	creds     graphsim.DemoCredentials
	secret    string // file holding the client secret
	mailboxes []string
	// messages and events the simulator holds (events within the worker's
	// default calendar window).
	messages, events int
}

// seedTenant generates a tenant; its events are centred on today so they
// fall inside the default calendar window (30 days back, 180 ahead).
func (w *world) seedTenant(key string, n, messages, events, folders int) (*benchTenant, error) {
	w.seq++
	ls := graphsim.LargeSeed{
		TenantID: fmt.Sprintf("b3c0be9c-0000-4000-8000-%012d", w.seq), Domain: key + ".example",
		Mailboxes: n, MessagesPerMailbox: messages, EventsPerMailbox: events, Folders: folders,
		Base: time.Now().UTC().Truncate(time.Hour),
	}
	return w.installTenant(key, ls)
}

// installTenant seeds ls (its TenantID set) and reads back what it holds.
func (w *world) installTenant(key string, ls graphsim.LargeSeed) (*benchTenant, error) {
	creds, err := w.sim.SeedLarge(ls)
	if err != nil {
		return nil, err
	}
	t := &benchTenant{key: key, seed: ls, creds: creds, secret: filepath.Join(w.dir, key+".secret")}
	if err := os.WriteFile(t.secret, []byte(creds.ClientSecret), 0o600); err != nil {
		return nil, err
	}
	snap, err := w.sim.Snapshot(creds.TenantID, time.Now().AddDate(0, 0, -30), time.Now().AddDate(0, 0, 180))
	if err != nil {
		return nil, err
	}
	for _, u := range snap.Users {
		mb := snap.Mailboxes[u.ID]
		if mb == nil {
			continue
		}
		t.mailboxes = append(t.mailboxes, u.ID)
		t.messages += len(mb.Messages)
		t.events += len(mb.Events)
	}
	return t, nil
}

// writeConfig writes the worker configuration a system's child loads with
// config.Load, the worker's own path (defaults, validation): the simulator
// as a custom cloud, the tenant with directory, mail and calendar, the
// system's own store file and task queue. JSON is YAML.
func (w *world) writeConfig(path string, t *benchTenant, taskQueue, storePath string) error {
	return writeJSONConfig(path, w.configMap(t, taskQueue, storePath))
}

// configMap is writeConfig's configuration, for callers that add to it.
func (w *world) configMap(t *benchTenant, taskQueue, storePath string) map[string]any {
	return map[string]any{
		"temporal": map[string]any{"address": w.temporal.HostPort, "namespace": w.temporal.Namespace, "taskQueue": taskQueue},
		"cloud": map[string]any{
			"name": "custom", "authorityHost": w.sim.AuthorityHost(), "graphBaseURL": w.sim.GraphBaseURL(),
			"graphScope": "https://graph.microsoft.com/.default", "allowedGraphHosts": []string{w.sim.Hostname()}, "caFile": w.sim.CAFile(),
		},
		"tenants": []any{map[string]any{
			"key": t.key, "displayName": "Bench " + t.key, "tenantID": t.creds.TenantID, "clientID": t.creds.ClientID,
			"authMode": "app-only", "secret": map[string]any{"file": t.secret}, "features": []string{"directory", "mail", "calendar"},
		}},
		"logging":     map[string]any{"level": "warn", "format": "console"},
		"encryption":  map[string]any{"activeKeyID": "bench", "keys": []any{map[string]any{"id": "bench", "secret": map[string]any{"file": w.keyFile}}}},
		"credentials": map[string]any{"dir": filepath.Join(w.dir, "credentials")},
		"store":       map[string]any{"driver": "sqlite", "path": storePath},
		"http":        map[string]any{"listen": "127.0.0.1:0"},
	}
}

func writeJSONConfig(path string, cfg map[string]any) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// graphRequests counts the requests the simulator served for a tenant
// since the last ClearRequests: Graph requests (/v1.0), of which those
// addressed to one mailbox (/users/{id}/...), and token requests.
type requestCount struct {
	// graph counts HTTPS round trips to Graph (a $batch is one); items
	// counts requests as Graph's limits do (each $batch item, not the
	// envelope).
	graph, items, mailbox, token int
	// lost counts delta requests answered SyncStateNotFound (410): rounds
	// that restarted from scratch.
	lost int
}

func (w *world) countRequests(t *benchTenant) requestCount {
	var c requestCount
	for _, r := range w.sim.Requests() {
		if !strings.EqualFold(r.TenantID, t.creds.TenantID) {
			continue
		}
		switch {
		case strings.HasPrefix(r.Path, "/v1.0/"):
			// mailbox counts what the naive loop's scaling multiplies;
			// it sends no $batch, so items and round trips agree there.
			if !r.BatchItem {
				c.graph++
			}
			if r.Path == "/v1.0/$batch" {
				continue
			}
			c.items++
			if r.Status == 410 {
				c.lost++
			}
			if segs := strings.Split(strings.TrimPrefix(r.Path, "/v1.0/"), "/"); len(segs) >= 3 && strings.EqualFold(segs[0], "users") {
				c.mailbox++
			}
		case strings.Contains(r.Path, "/oauth2/"):
			c.token++
		}
	}
	return c
}

// quietLogger keeps the parent's history-reading client silent.
type quietLogger struct{}

func (quietLogger) Debug(string, ...interface{}) {}
func (quietLogger) Info(string, ...interface{})  {}
func (quietLogger) Warn(string, ...interface{})  {}
func (quietLogger) Error(string, ...interface{}) {}
