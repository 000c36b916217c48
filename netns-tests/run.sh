#!/usr/bin/env bash
# Run the namespace tests: every netns-tests/test_*.sh, or those named.
#
# Prints PASS or FAIL per test (with the test's output on failure) and ends
# with "netns: N passed, M failed"; exits 1 if any failed.  Needs root; as
# another user it says so and exits 0.  A test is killed after
# NETNS_TEST_TIMEOUT seconds (default 300).  Each test gets its own prefix
# (NT_PREFIX); a namespace left behind with it fails the test and is
# removed.
#
# Usage: netns-tests/run.sh [test_NAME ...]
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

here=$NT_DIR
if [[ $(id -u) -ne 0 ]]; then
    echo "netns: skipped: these tests need root (they create network" \
        "namespaces and TUN devices); run as root to include them"
    exit 0
fi

if (($#)); then
    tests=()
    for name in "$@"; do
        tests+=("$here/${name%.sh}.sh")
    done
else
    tests=("$here"/test_*.sh)
fi

passed=0
failed=0
log=$(mktemp /tmp/portcullis-netns.XXXXXX)
trap 'rm -f "$log"' EXIT
i=0
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    i=$((i + 1))
    # At most 7 characters, as `portcullis lab up --prefix` wants.
    prefix=$(printf 't%d%02d' $(($$ % 10000)) $((i % 100)))
    start=$SECONDS
    rc=0
    NT_PREFIX=$prefix timeout -k 15 "${NETNS_TEST_TIMEOUT:-300}" \
        bash "$t" >"$log" 2>&1 || rc=$?
    took=$((SECONDS - start))

    leaked=$(P=$prefix lab_namespaces)
    if [[ -n $leaked ]]; then
        echo "namespaces left behind: $(echo "$leaked" | tr '\n' ' ')" >>"$log"
        for ns in $leaked; do
            kill_netns_pids "$ns"
            ip netns del "$ns" 2>/dev/null || true
        done
        ((rc)) || rc=1
    fi

    if ((rc == 0)); then
        passed=$((passed + 1))
        echo "PASS $name (${took}s)"
    else
        failed=$((failed + 1))
        ((rc == 124)) && echo "killed after ${NETNS_TEST_TIMEOUT:-300}s" >>"$log"
        echo "FAIL $name (exit $rc, ${took}s)"
        sed 's/^/    /' "$log"
    fi
done

echo "netns: $passed passed, $failed failed"
((failed == 0))
