#!/usr/bin/env bash
# ensure-postgres.sh makes sure PostgreSQL's server binaries (initdb, pg_ctl,
# postgres) are on this machine, for the tests that start a throwaway server
# (internal/pgtest). It looks where the tests look and installs
# Debian's postgresql package only when they are missing, so running it again
# does nothing.
#
#   scripts/ensure-postgres.sh          find, else install (apt-get)
#   scripts/ensure-postgres.sh --check  find, else exit 1 without installing
#
# OUTLOOKFLOW_PG_BINDIR points at a folder of binaries to use instead.
# PG_CONFIG and PG_LIB_ROOT override where it looks (pg_config,
# /usr/lib/postgresql), mainly to test this script.
set -euo pipefail

check_only=false
case "${1:-}" in
  --check) check_only=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

pg_config_bin="${PG_CONFIG:-pg_config}"
lib_root="${PG_LIB_ROOT:-/usr/lib/postgresql}"

has_server() {
  [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ]
}

# find_bindir prints the folder holding the server binaries, the same search
# as pgtest.BinDir: pg_config --bindir, else the newest
# $lib_root/*/bin.
find_bindir() {
  local dir
  if command -v "$pg_config_bin" >/dev/null 2>&1; then
    dir="$("$pg_config_bin" --bindir 2>/dev/null || true)"
    if [ -n "$dir" ] && has_server "$dir"; then
      echo "$dir"
      return 0
    fi
  fi
  for dir in $(ls -d "$lib_root"/*/bin 2>/dev/null | sort -V -r); do
    if has_server "$dir"; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

if [ -n "${OUTLOOKFLOW_PG_BINDIR:-}" ]; then
  if has_server "$OUTLOOKFLOW_PG_BINDIR"; then
    echo "ensure-postgres: using OUTLOOKFLOW_PG_BINDIR=$OUTLOOKFLOW_PG_BINDIR"
    exit 0
  fi
  echo "ensure-postgres: OUTLOOKFLOW_PG_BINDIR=$OUTLOOKFLOW_PG_BINDIR has no initdb, pg_ctl and postgres; fix or unset it" >&2
  exit 1
fi

if dir="$(find_bindir)"; then
  echo "ensure-postgres: PostgreSQL server binaries found in $dir"
  exit 0
fi

if $check_only; then
  echo "ensure-postgres: no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; run $0 without --check, or apt-get install -y postgresql" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-postgres: no PostgreSQL server binaries found and no apt-get here;" \
    "install the PostgreSQL server with your package manager, or set OUTLOOKFLOW_PG_BINDIR to the folder holding initdb" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "ensure-postgres: installing postgresql needs root; run as root: apt-get update && apt-get install -y postgresql" >&2
    exit 1
  fi
  sudo="sudo"
fi

echo "ensure-postgres: no PostgreSQL server binaries found; running: ${sudo:+$sudo }apt-get update && apt-get install -y postgresql"
# The package may create and start its own cluster (15 main on port 5432);
# the tests do not use it: they start their own server on a free port.
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql

if dir="$(find_bindir)"; then
  echo "ensure-postgres: PostgreSQL server binaries installed in $dir"
  exit 0
fi
echo "ensure-postgres: apt-get installed postgresql but initdb, pg_ctl and postgres are still not found via pg_config or in $lib_root/*/bin" >&2
exit 1
