#!/usr/bin/env bash
# Make sure the servers the tests use are installed and answering; install them with apt if not.
set -euo pipefail

apt_install() {
  if [ -z "${_APT_UPDATED:-}" ]; then apt-get update -qq; _APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# OpenSSH server binary: tests start their own sshd on a loopback port.
if [ ! -x /usr/sbin/sshd ]; then
  echo "installing openssh-server (for the SFTP tests)"
  as_root bash -c "$(declare -f apt_install); apt_install openssh-server"
fi

# Debian's Chromium for the browser tests (Playwright drives it; its own download is unreachable).
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (for the browser tests)"
  as_root bash -c "$(declare -f apt_install); apt_install chromium"
fi

# PostgreSQL on 127.0.0.1:5432 for the ledger's PostgreSQL suite.
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_isready >/dev/null || ! pg_up; then
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "installing postgresql (for the ledger tests)"
    as_root bash -c "$(declare -f apt_install); apt_install postgresql"
  fi
  version=$(ls /etc/postgresql | sort -n | tail -1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
  # A fresh install asks for a password over TCP: give the postgres role the one the tests use.
  as_root su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" || true
fi

# Redis on 127.0.0.1:6379: the Celery broker of the native CeleryExecutor topology test and bench.
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! command -v redis-cli >/dev/null || ! redis_up; then
  if ! command -v redis-server >/dev/null; then
    echo "installing redis-server (the Celery broker of the CeleryExecutor tests)"
    as_root bash -c "$(declare -f apt_install); apt_install redis-server"
  fi
  # No init system in a container: start it ourselves, on loopback only, keeping nothing on disk.
  redis_up || as_root redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  redis_up || { echo "Redis did not start on 127.0.0.1:6379" >&2; exit 1; }
fi
