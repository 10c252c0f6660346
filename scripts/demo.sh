#!/usr/bin/env bash
# make demo: a Temporal dev server with the Web UI, the Graph simulator seeded
# with a demo tenant, the outlookflow worker, and the demo tenant connected.
# Ctrl-C stops everything this script started and nothing else.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.bin
state=$root/.demo
temporal_port=${DEMO_TEMPORAL_PORT:-7233}
ui_port=${DEMO_UI_PORT:-8233}
sim_port=${DEMO_SIM_PORT:-8443}
codec_port=${DEMO_CODEC_PORT:-8081}

pids=()
stopping=0
cleanup() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap - INT TERM EXIT
  echo
  echo "Stopping the demo..."
  # Reverse order: worker first, then the simulator and the server.
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  echo "Stopped: every process the demo started has exited."
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

rm -rf "$state"
mkdir -p "$state"
chmod 700 "$state"

# A fresh payload-encryption key for this demo run (never committed).
head -c 32 /dev/urandom | base64 > "$state/payload.key"
chmod 600 "$state/payload.key"

echo "Starting the Temporal dev server (gRPC 127.0.0.1:$temporal_port, Web UI http://localhost:$ui_port)..."
"$bin/temporal" server start-dev --ip 127.0.0.1 --port "$temporal_port" --ui-port "$ui_port" \
  --log-level warn \
  --ui-codec-endpoint "http://localhost:$codec_port/codec" \
  --search-attribute OutlookflowTenant=Keyword \
  --search-attribute OutlookflowConnectionStatus=Keyword \
  >"$state/temporal.log" 2>&1 &
pids+=($!)

echo "Starting the Graph simulator (https://localhost:$sim_port) with the demo tenant..."
"$bin/graphsim" --addr "127.0.0.1:$sim_port" --state-dir "$state/graphsim" --seed demo \
  --credentials-out "$state/demo-credentials.json" >"$state/graphsim.log" 2>&1 &
pids+=($!)

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
    features: [directory, mail, mail-send]
    verifyInterval: 1m
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
YAML
export OUTLOOKFLOW_CONFIG=$state/config.yaml

echo "Starting the outlookflow worker..."
"$bin/outlookflow-worker" >"$state/worker.log" 2>&1 &
pids+=($!)

echo "Connecting the demo tenant..."
"$bin/starter" connect --tenant demo --wait 90s || {
  echo "The demo tenant did not connect; see $state/worker.log" >&2
  exit 1
}

cat <<INFO

outlookflow demo is running.

  Web UI        http://localhost:$ui_port  → workflow "outlookflow-tenant-demo"
                (filter: OutlookflowConnectionStatus = "Connected")
  Simulator     https://localhost:$sim_port  (CA: $state/graphsim/ca.pem)
  Logs          $state/{temporal,graphsim,worker}.log

Try, in another terminal:
  export OUTLOOKFLOW_CONFIG=$state/config.yaml
  $bin/starter status
  $bin/starter pause --tenant demo --reason "trying it out"
  $bin/starter resume --tenant demo
  $bin/starter verify --tenant demo

Payloads are encrypted (binary/encrypted) in Temporal; the Web UI shows them
decrypted through the worker's codec endpoint http://localhost:$codec_port/codec.
Press Ctrl-C to stop everything.
INFO

# Stay up until interrupted, or until one of the processes dies.
while true; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "A demo process ($pid) exited unexpectedly; see $state/*.log" >&2
      exit 1
    fi
  done
  sleep 1
done
