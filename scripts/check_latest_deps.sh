#!/usr/bin/env bash
# Drift check: do the newest releases that the packages' dependency ranges allow still pass?
#
# In a throwaway venv, with no constraints: the README's first command (install, then
# `dreamjax dream`), then the test install and pytest (extra arguments go to pytest). Prints which
# versions differ from constraints.txt and which tests fail; exits non-zero if anything failed.
#
#   scripts/check_latest_deps.sh               # whole suite
#   scripts/check_latest_deps.sh -x -k cast    # a quick look
#   scripts/check_latest_deps.sh --write-lock  # and, when all is green, rewrite constraints.txt
#                                              # (what scripts/lock_deps.sh does)
#
# Packages come from the package index only: pip's configuration files and the PIP_* variables
# that add constraints, local wheel folders or extra indexes are ignored, so the result does not
# depend on the machine (PIP_INDEX_URL, a mirror, is kept). PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

write_lock=0
if [[ "${1:-}" == "--write-lock" ]]; then
    write_lock=1
    shift
    if (($#)); then
        echo "error: the lock is written only after the whole suite; drop the pytest arguments: $*" >&2
        exit 2
    fi
fi

export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_CONSTRAINT PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_NO_INDEX PIP_REQUIREMENT
work=$(mktemp -d "${TMPDIR:-/tmp}/dreamjax-deps.XXXXXX")
trap 'rm -rf "$work"' EXIT
export DREAMJAX_CACHE_DIR="$work/xla-cache"  # a cold compilation cache, not the user's

"${PYTHON:-python3}" -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"

status=0
echo "== README, first command: pip install . ./plugins/dreamjax-onnx && dreamjax dream"
mkdir "$work/dream"
if pip install -q . ./plugins/dreamjax-onnx && (cd "$work/dream" && dreamjax dream) && [[ -s "$work/dream/chelsea_dream.png" ]]; then
    dream="passed"
else
    dream="FAILED"
    status=1
fi

echo "== test install and pytest $*"
if ! pip install -q -e '.[test]' -e './plugins/dreamjax-onnx[test]'; then
    echo "  the test install failed (README dream: $dream)" >&2
    exit 1
fi
set +e
python -m pytest -rfE "$@" 2>&1 | tee "$work/pytest.log"
tests=${PIPESTATUS[0]}
set -e
((tests == 0)) || status=1

pip freeze --exclude-editable | grep -v -i -E '^dreamjax(-onnx)?([=@ ]|$)' >"$work/freeze.txt"

echo
echo "== versions that differ from constraints.txt"
python - "$root/constraints.txt" "$work/freeze.txt" <<'EOF'
import re
import sys
from pathlib import Path


def pins(path):
    found = {}
    if Path(path).exists():
        for line in Path(path).read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                name, version = line.split("==", 1)
                found[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return found


locked, newest = pins(sys.argv[1]), pins(sys.argv[2])
if not locked:
    print("  (no constraints.txt yet)")
rows = [(n, locked.get(n, "-"), newest.get(n, "-")) for n in sorted(set(locked) | set(newest)) if locked.get(n) != newest.get(n)]
for name, old, new in rows:
    print(f"  {name:32} {old:>14} -> {new}")
if locked and not rows:
    print("  none")
EOF

echo
echo "== summary"
echo "  README first command (install, dreamjax dream): $dream"
if ((tests == 0)); then
    echo "  pytest $*: passed"
else
    echo "  pytest $*: FAILED (exit $tests); failing tests:"
    grep -E '^(FAILED|ERROR) ' "$work/pytest.log" | sed 's/^/    /' || true
fi

if ((write_lock)); then
    if ((status != 0)); then
        echo "constraints.txt left as it was: fix the failures first" >&2
    elif grep -E ' @ |\+' "$work/freeze.txt" >&2; then
        echo "error: the lines above are local builds or paths, not index releases; constraints.txt left as it was" >&2
        status=1
    else
        {
            echo "# The versions the whole test suite and the README's first command passed with."
            echo "# Made by scripts/lock_deps.sh: newest releases from the package index in a fresh venv,"
            echo "# then \`pytest\`; rerun it to refresh. $(python -c 'import platform as p; print(f"Python {p.python_version()}, {p.system()} {p.machine()}")'), $(date -u +%Y-%m-%d)."
            echo "# Install with: pip install -c constraints.txt -e '.[test]' -e './plugins/dreamjax-onnx[test]'"
            cat "$work/freeze.txt"
        } >"$root/constraints.txt.tmp"
        mv "$root/constraints.txt.tmp" "$root/constraints.txt"  # atomic: same folder
        echo "wrote constraints.txt ($(wc -l <"$work/freeze.txt") packages)"
    fi
fi
exit $status
