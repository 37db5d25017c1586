#!/usr/bin/env bash
# Make sure a PostgreSQL test database exists and print its SQLAlchemy URL on stdout.
# Starts the machine's PostgreSQL cluster if it is installed but stopped. Prints nothing
# (and exits 0) when no PostgreSQL is installed: the PostgreSQL tests then skip with that reason.
set -u
DB=${BYOK_TEST_POSTGRES_DB:-byok_test}
command -v psql >/dev/null 2>&1 || { echo "ensure-postgres: psql not installed" >&2; exit 0; }
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for v in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2 || true
    done
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
  fi
fi
pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || { echo "ensure-postgres: no server on 127.0.0.1:5432" >&2; exit 0; }
PSQL="psql -h 127.0.0.1 -U postgres -d postgres -tAq"
if [ -z "$($PSQL -c "SELECT 1 FROM pg_database WHERE datname='$DB'" 2>/dev/null)" ]; then
  $PSQL -c "CREATE DATABASE $DB" >&2 || { echo "ensure-postgres: cannot create $DB" >&2; exit 0; }
fi
echo "postgresql+psycopg://postgres@127.0.0.1:5432/$DB"
