#!/usr/bin/env bash
# make demo: a Temporal dev server with the Web UI, the Graph simulator seeded
# with a demo tenant, the outlookflow worker, and the demo tenant connected.
#
# - Temporal keeps its history in .demo/temporal.db, so a second `make demo`
#   finds the tenant (and everything it did) where the first one left it;
#   `make clean` starts afresh.
# - A worker that crashes (or is killed) is restarted, and the terminal says so.
# - Ctrl-C stops everything this script started, and nothing else, and ends
#   with exit status 0.
set -euo pipefail

# Ctrl-C goes to the terminal's whole foreground process group, make included,
# and make then reports the recipe as interrupted or failed however cleanly
# the script stops. With job control on, the real demo runs as a foreground
# job in a process group of its own: Ctrl-C reaches only that, the demo shuts
# down in order, and its exit status (0) becomes make's.
if [ -z "${OUTLOOKFLOW_DEMO_INNER:-}" ] && [ -t 0 ]; then
  set -m
  set +e
  OUTLOOKFLOW_DEMO_INNER=1 "$0" "$@"
  exit $?
fi

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.bin
state=$root/.demo
temporal_port=${DEMO_TEMPORAL_PORT:-7233}
ui_port=${DEMO_UI_PORT:-8233}
sim_port=${DEMO_SIM_PORT:-8443}
codec_port=${DEMO_CODEC_PORT:-8081}

# Children run in sessions of their own (setsid), so a Ctrl-C reaches only
# this script, which then stops them in order: worker first, so it finishes
# what it is doing, then the simulator and the server.
declare -A pid=()
stopping=0
cleanup() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap - INT TERM EXIT
  echo
  echo "Stopping the demo..."
  for name in worker graphsim temporal; do
    [ -n "${pid[$name]:-}" ] && kill -TERM "${pid[$name]}" 2>/dev/null || true
  done
  for name in worker graphsim temporal; do
    [ -n "${pid[$name]:-}" ] && wait "${pid[$name]}" 2>/dev/null || true
  done
  echo "Stopped: every process the demo started has exited. History is kept in $state/temporal.db (make clean removes it)."
}
trap cleanup EXIT
trap "cleanup; exit 0" INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$temporal_port" "$ui_port" "$sim_port" "$codec_port"; do
  if ! port_free "$p"; then
    echo "Port $p is already in use (another demo or Temporal server?). Stop it, or set DEMO_TEMPORAL_PORT / DEMO_UI_PORT / DEMO_SIM_PORT / DEMO_CODEC_PORT." >&2
    exit 1
  fi
done

wait_for() { # what, seconds, command...
  local what=$1 secs=$2; shift 2
  for ((i=0; i<secs*5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "$what did not come up within ${secs}s; see $state/*.log" >&2
  exit 1
}

mkdir -p "$state"
chmod 700 "$state"

# The payload-encryption key is made once and kept with the history it
# encrypts: a new key would leave the kept history unreadable.
if [ ! -s "$state/payload.key" ]; then
  (umask 077; head -c 32 /dev/urandom | base64 > "$state/payload.key")
  first_run=1
else
  first_run=0
fi
chmod 600 "$state/payload.key"

echo "Starting the Temporal dev server (gRPC 127.0.0.1:$temporal_port, Web UI http://localhost:$ui_port)..."
if [ "$first_run" = 0 ] && [ -s "$state/temporal.db" ]; then
  echo "  reusing the history in $state/temporal.db"
fi
setsid "$bin/temporal" server start-dev --ip 127.0.0.1 --port "$temporal_port" --ui-port "$ui_port" \
  --db-filename "$state/temporal.db" \
  --log-level warn \
  --ui-codec-endpoint "http://localhost:$codec_port/codec" \
  --search-attribute OutlookflowTenant=Keyword \
  --search-attribute OutlookflowConnectionStatus=Keyword \
  --search-attribute OutlookflowSyncKind=Keyword \
  --search-attribute OutlookflowRecipe=Keyword \
  --search-attribute OutlookflowRunStatus=Keyword \
  >>"$state/temporal.log" 2>&1 &
pid[temporal]=$!

echo "Starting the Graph simulator (https://localhost:$sim_port) with the demo tenant..."
# The simulator writes these afresh; waiting for the new ones needs the old gone.
rm -f "$state/demo-credentials.json" "$state/demo-credentials.json.secret"
# --grant: the example recipes (recipes/examples) write mail and calendars,
# which the demo app's sync-only grant does not allow.
setsid "$bin/graphsim" --addr "127.0.0.1:$sim_port" --state-dir "$state/graphsim" --seed demo \
  --grant Mail.ReadWrite,Calendars.ReadWrite \
  --credentials-out "$state/demo-credentials.json" >>"$state/graphsim.log" 2>&1 &
pid[graphsim]=$!

wait_for "Temporal" 60 "$bin/temporal" operator cluster health --address "127.0.0.1:$temporal_port"
wait_for "the Graph simulator" 30 test -s "$state/demo-credentials.json"

# A string field of the JSON graphsim wrote (flat, one field per key; no jq needed).
cred() { grep -o "\"$1\": *\"[^\"]*\"" "$state/demo-credentials.json" | head -n1 | sed 's/.*: *"\(.*\)"/\1/'; }
tenant_id=$(cred tenantId)
client_id=$(cred clientId)
secret_file=$(cred clientSecretFile)
for v in tenant_id client_id secret_file; do
  if [ -z "${!v}" ]; then echo "could not read $v from $state/demo-credentials.json" >&2; exit 1; fi
done

cat >"$state/config.yaml" <<YAML
# Written by scripts/demo.sh: the demo tenant lives in the Graph simulator.
temporal:
  address: 127.0.0.1:$temporal_port
  namespace: default
  taskQueue: outlookflow
cloud:
  name: custom
  authorityHost: https://localhost:$sim_port/
  graphBaseURL: https://localhost:$sim_port/v1.0
  allowedGraphHosts: [localhost]
  caFile: $state/graphsim/ca.pem
tenants:
  - key: demo
    displayName: Demo Tenant (simulated)
    tenantID: $tenant_id
    clientID: $client_id
    authMode: app-only
    secret: {file: $secret_file}
    features: [directory, groups, mail, mail-send, calendar, mailbox-settings, contacts]
    verifyInterval: 1m
    syncInterval: 2m
logging:
  level: info
  format: console
http:
  # /healthz and the codec endpoint the Web UI decrypts payloads through.
  listen: 127.0.0.1:$codec_port
  codecCORSOrigins: [http://localhost:$ui_port, http://127.0.0.1:$ui_port]
encryption:
  activeKeyID: demo
  keys:
    - id: demo
      secret: {file: $state/payload.key}
credentials:
  # Secrets handed over with 'starter rotate --secret-stdin', sealed.
  dir: $state/credentials
store:
  driver: sqlite
  path: $state/outlookflow.db
recipes:
  # The shipped examples (README "Recipes"). flagged-to-teams needs a
  # delegated tenant: the worker logs why it refuses it and runs the rest.
  dir: $root/recipes/examples
YAML
export OUTLOOKFLOW_CONFIG=$state/config.yaml

start_worker() {
  setsid "$bin/outlookflow-worker" >>"$state/worker.log" 2>&1 &
  pid[worker]=$!
}
echo "Starting the outlookflow worker..."
start_worker

if [ "$first_run" = 0 ]; then
  # The simulator keeps nothing between runs: it knows only the demo app's
  # first secret again, so a secret rotated in an earlier run is gone.
  echo "Pointing the demo tenant back at its configured secret (the simulator forgot any rotated one)..."
  "$bin/starter" rotate --tenant demo --wait 60s >/dev/null 2>&1 || true
fi

echo "Connecting the demo tenant..."
"$bin/starter" connect --tenant demo --wait 90s || {
  echo "The demo tenant did not connect; see $state/worker.log" >&2
  exit 1
}

cat <<INFO

outlookflow demo is running.

  Web UI        http://localhost:$ui_port  → workflow "outlookflow-tenant-demo"
                (filter: OutlookflowConnectionStatus = "Connected"), sync runs
                (OutlookflowSyncKind = "scheduled"), schedule outlookflow-sync-schedule-demo
  Store         $state/outlookflow.db (SQLite; the demo tenant syncs every 2 minutes)
  Simulator     https://localhost:$sim_port  (CA: $state/graphsim/ca.pem)
  Logs          $state/{temporal,graphsim,worker}.log
  History       $state/temporal.db (kept across runs; make clean removes it)

Try, in another terminal:
  export OUTLOOKFLOW_CONFIG=$state/config.yaml
  $bin/starter status
  $bin/starter pause --tenant demo --reason "trying it out"
  $bin/starter resume --tenant demo
  $bin/starter verify --tenant demo
  $bin/starter sync --tenant demo --wait
  $bin/starter messages --tenant demo --as adele.vance@contoso.example
  $bin/starter events --tenant demo --as adele.vance@contoso.example
  $bin/starter recipes list
  $bin/starter recipes run --tenant demo --recipe daily-digest --wait 1m
  $bin/starter scopes --tenant demo

Payloads are AES-256-GCM encrypted before they reach Temporal. The Web UI
shows them decoded because it calls the worker's codec endpoint
http://localhost:$codec_port/codec; without it (or with 'temporal workflow show')
they read as binary/encrypted.
Kill the worker (kill -9 ${pid[worker]}) and it is restarted; press Ctrl-C to stop everything.
INFO

# Stay up until interrupted. A worker that exits is restarted (unless it keeps
# crashing); the server or the simulator exiting ends the demo.
restarts=()
while true; do
  for name in temporal graphsim; do
    if ! kill -0 "${pid[$name]}" 2>/dev/null; then
      set +e; wait "${pid[$name]}"; status=$?; set -e
      echo "The $name process (${pid[$name]}) exited with status $status; see $state/$name.log. Stopping the demo." >&2
      exit 1
    fi
  done
  if ! kill -0 "${pid[worker]}" 2>/dev/null; then
    set +e; wait "${pid[worker]}"; status=$?; set -e
    how="with status $status"
    [ "$status" -gt 128 ] && how="killed by signal $((status - 128))"
    now=$(date +%s)
    recent=()
    for t in "${restarts[@]}"; do (( now - t < 60 )) && recent+=("$t"); done
    restarts=("${recent[@]}" "$now")
    if (( ${#restarts[@]} > 5 )); then
      echo "$(date +%T) The worker (${pid[worker]}) exited $how, the sixth time within a minute; not restarting it. See $state/worker.log." >&2
      exit 1
    fi
    echo "$(date +%T) The worker (${pid[worker]}) exited $how; restarting it (log continues in $state/worker.log)."
    start_worker
    echo "$(date +%T) Worker restarted as ${pid[worker]}; Temporal hands it the tenant's workflow and any check the old one left unfinished."
  fi
  sleep 1
done
