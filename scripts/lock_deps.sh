#!/usr/bin/env bash
# Refresh constraints.txt: the drift check (scripts/check_latest_deps.sh) on the newest releases,
# the whole suite, and only when everything passes, the lock rewritten from that venv's freeze.
set -euo pipefail
exec "$(dirname "$0")/check_latest_deps.sh" --write-lock "$@"
