#!/usr/bin/env bash
# First start of the postgres service (docker-compose.yaml): the ledger's own database and role,
# apart from Airflow's metadata DB. Its tables come from `python -m dropstream.ledger upgrade`.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$DROPSTREAM_LEDGER_PASSWORD" <<'SQL'
CREATE ROLE dropstream LOGIN PASSWORD :'password';
CREATE DATABASE dropstream OWNER dropstream;
SQL
