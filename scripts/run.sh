#!/usr/bin/env bash
# `make run`: Airflow standalone (SQLite, LocalExecutor) with DropStream's DAGs on
# http://127.0.0.1:8080, plus the sandbox (a demo Shopify store and a simulated 3PL) registered
# as the connection `demo` and switched on. DROPSTREAM_DEMO=0 starts without the sandbox.
set -euo pipefail
source "$(dirname "$0")/env.sh"
PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__API__PORT="$PORT"
# Listen on loopback only unless told otherwise (AIRFLOW__API__HOST=0.0.0.0 to share it).
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
HOST_FOR_CLIENTS="127.0.0.1"
[ "$AIRFLOW__API__HOST" = "0.0.0.0" ] || HOST_FOR_CLIENTS="$AIRFLOW__API__HOST"
BASE_URL="http://$HOST_FOR_CLIENTS:$PORT"
# Task runners report to the Execution API of this api-server: it must follow the port.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-$BASE_URL/execution/}"
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-$BASE_URL}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
# All components must share one JWT secret; keep a generated one in AIRFLOW_HOME (never committed).
if [ -z "${AIRFLOW__API_AUTH__JWT_SECRET:-}" ]; then
  [ -s "$AIRFLOW_HOME/jwt_secret" ] || python -c "import secrets; print(secrets.token_urlsafe(32))" > "$AIRFLOW_HOME/jwt_secret"
  export AIRFLOW__API_AUTH__JWT_SECRET="$(cat "$AIRFLOW_HOME/jwt_secret")"
fi
# The embedded SQLite metadata DB: wait for locks rather than fail (see plugins/dropstream/airflow_sqlite.py).
if [ -z "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" ]; then
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS:-dropstream.airflow_sqlite.SYNC}"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC:-dropstream.airflow_sqlite.ASYNC}"
fi
DEMO="${DROPSTREAM_DEMO:-1}"
SHOP_PORT="${DROPSTREAM_SANDBOX_SHOP_PORT:-8098}"
FTP_PORT="${DROPSTREAM_SANDBOX_FTP_PORT:-2121}"

python -m dropstream.ledger upgrade  # the exactly-once ledger's tables (Alembic migrations)
echo "Starting Airflow standalone in $AIRFLOW_HOME (first start migrates the database: about a minute)…"
# In a process group of its own: stopping it stops every component and task it started.
setsid airflow standalone > "$AIRFLOW_HOME/standalone.log" 2>&1 &
pid=$!
echo "$pid" > "$AIRFLOW_HOME/standalone.pid"
sandbox_pid=""
cleanup() {
  trap - INT TERM EXIT
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null
  kill -TERM -- -"$pid" 2>/dev/null
  for _ in $(seq 1 20); do kill -0 -- -"$pid" 2>/dev/null || break; sleep 1; done
  kill -KILL -- -"$pid" 2>/dev/null || true
}
trap cleanup INT TERM EXIT

for _ in $(seq 1 300); do
  if curl -fsS "$BASE_URL/api/v2/monitor/health" >/dev/null 2>&1; then break; fi
  kill -0 $pid 2>/dev/null || { echo "Airflow exited; see $AIRFLOW_HOME/standalone.log" >&2; tail -30 "$AIRFLOW_HOME/standalone.log" >&2; exit 1; }
  sleep 1
done
passwords="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
for _ in $(seq 1 30); do [ -s "$passwords" ] && break; sleep 1; done
# The setup DAG registers connections through the REST API: give it the API's URL and the admin
# login (embedded default only; production uses a service user, see docs/setup.md). Re-created at
# every start so it follows the port.
admin_pw=$(python -c "import json,sys; print(json.load(open(sys.argv[1])).get('admin',''))" "$passwords" 2>/dev/null || true)
if [ -n "$admin_pw" ]; then
  airflow connections delete dropstream_airflow_api >/dev/null 2>&1 || true
  airflow connections add dropstream_airflow_api --conn-type http --conn-host "$BASE_URL" \
    --conn-login admin --conn-password "$admin_pw" >/dev/null 2>&1 \
    && echo "Airflow Connection dropstream_airflow_api points at $BASE_URL (used by the dropstream_setup DAG)."
fi
if [ "$DEMO" != "0" ]; then
  python -m dropstream.sandbox --state-dir "$AIRFLOW_HOME/sandbox" \
    --shop-port "$SHOP_PORT" --ftp-port "$FTP_PORT" --register-demo \
    --api-url "$BASE_URL" --api-user admin --api-password-file "$passwords" \
    > "$AIRFLOW_HOME/sandbox.log" 2>&1 &
  sandbox_pid=$!
fi
login=$(python -c "import json,sys; d=json.load(open(sys.argv[1])); print(', '.join(f'{u} / {p}' for u,p in d.items()))" "$passwords" 2>/dev/null || echo "see $passwords")
echo
echo "DropStream is running:  $BASE_URL"
echo "Login:                  $login"
echo "Add a connection:       DAGs → dropstream_setup → Trigger (the form)"
if [ "$DEMO" != "0" ]; then
  echo "Sandbox (demo data):    http://127.0.0.1:$SHOP_PORT/   (a demo Shopify store and a simulated 3PL)"
  echo "                        connection 'demo' is being registered and switched on: DAGs list, tag 'sandbox'"
  echo "                        warehouse files: $AIRFLOW_HOME/sandbox/warehouse/{in,out,archive}"
  echo "                        orders reach the warehouse within ~3 minutes, tracking and stock within ~5"
fi
echo "Logs:                   $AIRFLOW_HOME/standalone.log, $AIRFLOW_HOME/sandbox.log   (Ctrl-C stops everything)"
wait $pid
