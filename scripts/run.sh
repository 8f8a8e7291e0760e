#!/usr/bin/env bash
# `make run`: Airflow standalone (SQLite, LocalExecutor) with DropStream's DAGs on http://localhost:8080.
set -euo pipefail
source "$(dirname "$0")/env.sh"
PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
# All components must share one JWT secret; keep a generated one in AIRFLOW_HOME (never committed).
if [ -z "${AIRFLOW__API_AUTH__JWT_SECRET:-}" ]; then
  [ -s "$AIRFLOW_HOME/jwt_secret" ] || python -c "import secrets; print(secrets.token_urlsafe(32))" > "$AIRFLOW_HOME/jwt_secret"
  export AIRFLOW__API_AUTH__JWT_SECRET="$(cat "$AIRFLOW_HOME/jwt_secret")"
fi

python -m dropstream.ledger upgrade  # the exactly-once ledger's tables (Alembic migrations)
echo "Starting Airflow standalone in $AIRFLOW_HOME (first start migrates the database: about a minute)…"
airflow standalone > "$AIRFLOW_HOME/standalone.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' INT TERM EXIT

for _ in $(seq 1 300); do
  if curl -fsS "http://localhost:$PORT/api/v2/monitor/health" >/dev/null 2>&1; then break; fi
  kill -0 $pid 2>/dev/null || { echo "Airflow exited; see $AIRFLOW_HOME/standalone.log" >&2; tail -30 "$AIRFLOW_HOME/standalone.log" >&2; exit 1; }
  sleep 1
done
passwords="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
for _ in $(seq 1 30); do [ -s "$passwords" ] && break; sleep 1; done
# The setup DAG registers connections through the REST API: give it the API's URL and the admin
# login (embedded default only; production uses a service user, see docs/setup.md).
admin_pw=$(python -c "import json,sys; print(json.load(open(sys.argv[1])).get('admin',''))" "$passwords" 2>/dev/null || true)
if [ -n "$admin_pw" ] && ! airflow connections get dropstream_airflow_api >/dev/null 2>&1; then
  airflow connections add dropstream_airflow_api --conn-type http --conn-host "http://localhost:$PORT" \
    --conn-login admin --conn-password "$admin_pw" >/dev/null 2>&1 \
    && echo "Created Airflow Connection dropstream_airflow_api (used by the dropstream_setup DAG)."
fi
echo
echo "DropStream is running:  http://localhost:$PORT"
echo "Login:                  $(python -c "import json,sys; d=json.load(open(sys.argv[1])); print(', '.join(f'{u} / {p}' for u,p in d.items()))" "$passwords" 2>/dev/null || echo "see $passwords")"
echo "Logs:                   $AIRFLOW_HOME/standalone.log   (Ctrl-C stops everything)"
wait $pid
