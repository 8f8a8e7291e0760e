#!/usr/bin/env bash
# Regenerate constraints.txt: resolve requirements.txt + requirements-dev.txt together with uv.
#
#   scripts/lock.sh                 keep every current pin that still fits; add new packages
#   scripts/lock.sh -P celery ...   let only these packages move (uv's --upgrade-package)
#   scripts/lock.sh --upgrade       resolve everything afresh (newest versions that fit)
#
# The current constraints.txt is only a preference: a pin that no longer fits moves, one no
# longer needed disappears. The result is then installed into a throwaway virtualenv, so a
# lock that does not install is never written. Never edit constraints.txt by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
UV=".venv/bin/uv"
[ -x "$UV" ] || { echo "run 'make deps' first (it installs uv into .venv)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp constraints.txt "$work/constraints.txt"
"$UV" pip compile --quiet --python "$PYTHON" --no-annotate \
  --custom-compile-command "scripts/lock.sh" \
  -o "$work/constraints.txt" "$@" requirements-dev.txt

"$PYTHON" -m venv --without-pip "$work/venv"
"$UV" pip install --quiet --python "$work/venv/bin/python" \
  -r requirements-dev.txt -c "$work/constraints.txt"
mv "$work/constraints.txt" constraints.txt
echo "constraints.txt: $(grep -c '==' constraints.txt) pins (git diff constraints.txt shows what moved)"
