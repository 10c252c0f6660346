// Package pgtest starts the real PostgreSQL server that store tests (and
// later sync tests) run against, from the machine's own binaries
// (scripts/ensure-postgres.sh installs them where missing). It has no
// project imports, so a package that needs only PostgreSQL does not build
// the Graph SDK.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver for the admin connection
)

// BinDirEnv names the variable that points at a folder holding
// PostgreSQL's server binaries (initdb, pg_ctl, postgres); it overrides the
// search below.
const BinDirEnv = "OUTLOOKFLOW_PG_BINDIR"

// postgresInstallHint is what to do when the server binaries are missing.
const postgresInstallHint = "run `apt-get install -y postgresql` (or scripts/ensure-postgres.sh, which `make test` runs), or point " +
	BinDirEnv + " at a folder holding initdb, pg_ctl and postgres"

// BinDir finds PostgreSQL's server binaries: $OUTLOOKFLOW_PG_BINDIR,
// else `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin
// (Debian keeps them off PATH).
func BinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		if !hasPostgresServer(dir) {
			return "", fmt.Errorf("%s=%s has no initdb, pg_ctl and postgres; %s", BinDirEnv, dir, postgresInstallHint)
		}
		return dir, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); hasPostgresServer(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first ("9.6" < "15" numerically).
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, dir := range dirs {
		if hasPostgresServer(dir) {
			return dir, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found via pg_config or in /usr/lib/postgresql/*/bin; " + postgresInstallHint)
}

func pgMajor(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func hasPostgresServer(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if info, err := os.Stat(filepath.Join(dir, name)); err != nil || info.IsDir() {
			return false
		}
	}
	return true
}

// Server is a throwaway PostgreSQL server for one test package: its own
// data folder and socket folder in a temp dir, listening on a free loopback
// port, with a random superuser password so other local users cannot use it.
type Server struct {
	// Port is the TCP port on 127.0.0.1.
	Port     int
	password string
	binDir   string
	root     string
	dataDir  string
	// runAs is the OS user the server runs as ("" for the current user):
	// initdb and postgres refuse to run as root.
	runAs    string
	uid, gid int
	admin    *sql.DB
	dbs      atomic.Int64
	logTo    io.Writer
	logDir   string
}

// Start initialises and starts a server. Call it from TestMain (or
// use Main) and Stop it after m.Run. logTo receives the output of
// initdb and pg_ctl; nil discards it.
func Start(ctx context.Context, logTo io.Writer) (*Server, error) {
	binDir, err := BinDir()
	if err != nil {
		return nil, err
	}
	if logTo == nil {
		logTo = io.Discard
	}
	root, err := os.MkdirTemp("", "outlookflow-pg-")
	if err != nil {
		return nil, fmt.Errorf("creating a folder for the test PostgreSQL server: %w", err)
	}
	p := &Server{binDir: binDir, root: root, dataDir: filepath.Join(root, "data"), logTo: logTo, logDir: root}
	ok := false
	defer func() {
		if !ok {
			_ = p.Stop()
		}
	}()
	if os.Geteuid() == 0 {
		if err := p.handToPostgresUser(); err != nil {
			return nil, err
		}
	}
	if err := p.initdb(ctx); err != nil {
		return nil, err
	}
	// A free port can be taken between choosing it and the server binding
	// it; try a few.
	for attempt := 1; ; attempt++ {
		err = p.start(ctx)
		if err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil {
			return nil, err
		}
	}
	admin, err := sql.Open("pgx", p.dsn("postgres"))
	if err != nil {
		return nil, err
	}
	p.admin = admin
	if err := admin.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("connecting to the test PostgreSQL server on port %d: %w", p.Port, err)
	}
	ok = true
	return p, nil
}

// handToPostgresUser makes the temp folder belong to the "postgres" OS user,
// which then runs initdb and the server.
func (p *Server) handToPostgresUser() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("initdb refuses to run as root and there is no \"postgres\" OS user to run it as (%v); %s", err, postgresInstallHint)
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		return errors.New("running PostgreSQL as the postgres user from root needs runuser; install util-linux")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(p.root, uid, gid); err != nil {
		return fmt.Errorf("giving %s to the postgres user: %w", p.root, err)
	}
	p.runAs, p.uid, p.gid = "postgres", uid, gid
	return nil
}

// command runs a PostgreSQL binary as the server's OS user.
func (p *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	bin := filepath.Join(p.binDir, name)
	if p.runAs != "" {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", p.runAs, "--", bin}, args...)...)
	}
	return exec.CommandContext(ctx, bin, args...)
}

func (p *Server) run(ctx context.Context, name string, args ...string) error {
	var out bytes.Buffer
	cmd := p.command(ctx, name, args...)
	cmd.Stdout = io.MultiWriter(&out, p.logTo)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (p *Server) initdb(ctx context.Context) error {
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	p.password = hex.EncodeToString(secret)
	pwfile := filepath.Join(p.root, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.password+"\n"), 0o600); err != nil {
		return err
	}
	if p.runAs != "" {
		if err := os.Chown(pwfile, p.uid, p.gid); err != nil {
			return err
		}
	}
	defer os.Remove(pwfile)
	// Trust on the private socket folder only; TCP needs the password.
	// --no-sync: a test server's data need not survive a power cut.
	return p.run(ctx, "initdb", "-D", p.dataDir, "-U", "postgres", "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
		"--no-sync", "--no-instructions")
}

func (p *Server) start(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	p.Port = port
	// Durability off: these databases live for one test run.
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
		port, p.root)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	logFile := filepath.Join(p.logDir, "server.log")
	if err := p.run(ctx, "pg_ctl", "start", "-w", "-t", "50", "-D", p.dataDir, "-l", logFile, "-o", opts); err != nil {
		serverLog, _ := os.ReadFile(logFile)
		return fmt.Errorf("starting the test PostgreSQL server: %w\nserver log:\n%s", err, lastLines(string(serverLog), 20))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port for PostgreSQL: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (p *Server) dsn(database string) string {
	return fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/%s?sslmode=disable", p.password, p.Port, database)
}

// Database creates an empty database for one test, dropped when the test
// ends, and returns its DSN.
func (p *Server) Database(tb testing.TB) string {
	tb.Helper()
	name := databaseName(tb.Name(), p.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.admin.ExecContext(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("creating test database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE ends sessions a failed test left open.
		if _, err := p.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Logf("dropping test database %s: %v", name, err)
		}
	})
	return p.dsn(name)
}

// databaseName makes a valid, unique database name (PostgreSQL allows 63
// bytes) that still says which test it belongs to.
func databaseName(testName string, n int64) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	suffix := fmt.Sprintf("_%d", n)
	name := b.String()
	if max := 63 - len("t_") - len(suffix); len(name) > max {
		name = name[len(name)-max:]
	}
	return "t_" + name + suffix
}

// Stop shuts the server down and removes its folder.
func (p *Server) Stop() error {
	if p == nil {
		return nil
	}
	var errs []error
	if p.admin != nil {
		errs = append(errs, p.admin.Close())
	}
	if _, err := os.Stat(filepath.Join(p.dataDir, "postmaster.pid")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		errs = append(errs, p.run(ctx, "pg_ctl", "stop", "-w", "-m", "immediate", "-D", p.dataDir))
		cancel()
	}
	errs = append(errs, os.RemoveAll(p.root))
	return errors.Join(errs...)
}

// Main is a TestMain for packages whose tests need PostgreSQL: it
// starts one server, stores it in *srv, runs the tests, stops it and exits.
// Missing binaries fail the package with the install command; the tests are
// never skipped.
func Main(m *testing.M, srv **Server) {
	p, err := Start(context.Background(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "these tests need a PostgreSQL server:", err)
		os.Exit(1)
	}
	*srv = p
	code := m.Run()
	if err := p.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test PostgreSQL server:", err)
	}
	os.Exit(code)
}
