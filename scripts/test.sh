#!/usr/bin/env bash
# The whole test suite: what CI runs (.ci/run) and what to run before
# pushing.
#
#   1. install missing packages (scripts/deps.sh)
#   2. cargo build --release            (a failure stops here)
#   3. cargo test --release             unit and integration tests
#   4. cargo fmt --check
#   5. cargo clippy --all-targets -- -D warnings
#   6. netns-tests/run.sh               root only; skipped otherwise
#   7. ../shared/conformance/run.py     pcap replay cases, if present
#
# Steps 3-7 all run even if one fails; the summary names the failures and
# the exit status is 1 if there were any.
#
# Usage: scripts/test.sh
set -euo pipefail

cd "$(dirname "$0")/.."
scripts/deps.sh
if ! command -v cargo >/dev/null 2>&1 && [[ -r $HOME/.cargo/env ]]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi

failed=()
passed=0
# step NAME CMD...: run one step, remember it if it fails.
step() {
    local name=$1 start=$SECONDS rc=0
    shift
    echo "==> $name"
    "$@" || rc=$?
    if ((rc)); then
        failed+=("$name")
        echo "==> $name: FAILED (exit $rc, $((SECONDS - start))s)"
    else
        passed=$((passed + 1))
        echo "==> $name: ok ($((SECONDS - start))s)"
    fi
}

echo "==> build"
cargo build --release

step "unit tests" cargo test --release
step "rustfmt" cargo fmt --check
step "clippy" cargo clippy --all-targets -- -D warnings
step "netns tests" netns-tests/run.sh
if [[ -d ../shared/conformance ]]; then
    step "conformance" python3 ../shared/conformance/run.py \
        --bin target/release/portcullis \
        --must-pass netns-tests/conformance-must-pass.txt
else
    echo "==> conformance: skipped (no ../shared/conformance)"
fi

# The last line counts steps, in the form CI summaries read.
if ((${#failed[@]})); then
    echo "test.sh: failed steps: ${failed[*]}"
    echo "steps: $passed passed, ${#failed[@]} failed"
    exit 1
fi
echo "steps: $passed passed, 0 failed"
