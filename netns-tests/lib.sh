# shellcheck shell=bash
# Shared helpers for the namespace tests; sourced by every test_*.sh.
#
# A test calls need_root, then lab_init, which picks a prefix unique to the
# test (NT_PREFIX from run.sh, else t<pid>; at most 7 characters, the
# limit `portcullis lab up --prefix` sets), makes a work
# folder and installs a trap that, on every exit path, stops what the test
# started, runs `portcullis lab down` and deletes any namespace left with
# the prefix.  All waits poll with a deadline; nothing asserts on time.
#
# Environment: PORTCULLIS (binary, default target/release/portcullis),
# KEEP_WORK=1 keeps the work folder for a look afterwards.

set -euo pipefail

NT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$NT_DIR/.." && pwd)
PORTCULLIS=${PORTCULLIS:-$REPO/target/release/portcullis}
# `lab up` finds its default rules/ relative to the working directory.
cd "$REPO"

# Addresses `portcullis lab up` gives the two sides.
# shellcheck disable=SC2034 # read by the tests that source this file
CLIENT4=198.18.0.2
SERVER4=198.18.1.2
# shellcheck disable=SC2034
SERVER6=fd00:0:0:2::2

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

note() {
    echo "-- $*"
}

need_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "SKIP: $(basename "$0") needs root (network namespaces, TUN)"
        exit 0
    fi
    [[ -x $PORTCULLIS ]] || fail "no binary at $PORTCULLIS (cargo build --release)"
}

# lab_init: prefix P, work folder WORK, cleanup trap.
lab_init() {
    P=${NT_PREFIX:-t$(($$ % 1000000))}
    ((${#P} <= 7)) || fail "prefix $P is longer than 7 characters"
    WORK=$(mktemp -d "/tmp/portcullis-nt-$P.XXXXXX")
    BG_PIDS=()
    PC_PID=""
    PC_N=0
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

cleanup() {
    local rc=$? ns
    set +e
    trap - EXIT INT TERM
    stop_bg
    pc_stop
    "$PORTCULLIS" lab down --prefix "$P" >/dev/null 2>&1
    for ns in $(lab_namespaces); do
        kill_netns_pids "$ns"
        ip netns del "$ns" 2>/dev/null
    done
    # The lab's own folder (default EVE log, web root); empty once the lab
    # is down, since the tests log elsewhere.
    rmdir "${TMPDIR:-/tmp}/portcullis-$P" 2>/dev/null
    if ((rc != 0)); then
        local f
        for f in "$WORK"/*.log; do
            [[ -s $f ]] || continue
            echo "---- last lines of $(basename "$f")" >&2
            # Colour codes make no sense in a log file.
            tail -n 25 "$f" | sed 's/\x1b\[[0-9;]*m//g' | awk 1 >&2
        done
    fi
    if [[ ${KEEP_WORK:-0} == 1 ]]; then
        echo "work folder kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}

# Namespaces whose name starts with "$P-".
lab_namespaces() {
    ip netns list 2>/dev/null | awk -v p="$P-" 'index($1, p) == 1 { print $1 }'
}

kill_netns_pids() {
    local pids
    pids=$(ip netns pids "$1" 2>/dev/null)
    # shellcheck disable=SC2086 # one pid per word
    [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
}

# wait_for SECONDS WHAT CMD...: run CMD every 0.2 s until it succeeds.
wait_for() {
    local secs=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + secs))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            echo "timed out after ${secs}s waiting for $what" >&2
            return 1
        fi
        sleep 0.2
    done
}

pid_gone() {
    ! kill -0 "$1" 2>/dev/null
}

# in_ns client|server CMD...: run CMD inside one side of the lab.
in_ns() {
    local side=$1
    shift
    ip netns exec "$P-$side" "$@"
}

# bg_ns client|server LOGNAME CMD...: start CMD in the background inside a
# namespace; its pid goes to BG_PIDS (stopped by stop_bg) and to BG_PID.
bg_ns() {
    local side=$1 log=$2
    shift 2
    ip netns exec "$P-$side" "$@" >"$WORK/$log.log" 2>&1 &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

stop_bg() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        wait_for 5 "pid $pid to exit" pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    BG_PIDS=()
    return 0
}

# pc_start ARGS...: start portcullis with ARGS in the background.  Sets
# PC_PID, PC_LOG (its stderr and stdout) and counts runs in PC_N.
pc_start() {
    [[ -z $PC_PID ]] || fail "portcullis already running"
    PC_N=$((PC_N + 1))
    PC_LOG=$WORK/portcullis.$PC_N.log
    # Job control on while forking: a background job of a script would
    # otherwise start with SIGINT ignored, unlike a program run in a
    # terminal, where Ctrl-C reaches it.
    set -m
    "$PORTCULLIS" "$@" >"$PC_LOG" 2>&1 &
    PC_PID=$!
    set +m
}

# pc_stop: stop portcullis as Ctrl-C would (SIGINT) and wait for it to exit,
# killing it if it will not.  Background helpers go first, so the lab can
# remove its namespaces.  Leaves the exit status in PC_RC.
# shellcheck disable=SC2034 # PC_RC is for the tests
pc_stop() {
    PC_RC=""
    [[ -n $PC_PID ]] || return 0
    stop_bg
    kill -INT "$PC_PID" 2>/dev/null || true
    if ! wait_for 20 "portcullis to exit after SIGINT" pid_gone "$PC_PID"; then
        kill -KILL "$PC_PID" 2>/dev/null || true
    fi
    PC_RC=0
    wait "$PC_PID" 2>/dev/null || PC_RC=$?
    PC_PID=""
    return 0
}

pc_alive() {
    [[ -n $PC_PID ]] && kill -0 "$PC_PID" 2>/dev/null
}

# lab_start ARGS...: `portcullis lab up --prefix P --eve-log EVE ARGS...`,
# then wait for its "lab ready" line.  EVE is a fresh file for each run.
lab_start() {
    local eve=$WORK/eve.$((PC_N + 1)).json
    pc_start lab up --prefix "$P" --eve-log "$eve" "$@"
    EVE=$eve
    wait_for 30 "'lab ready' from portcullis" lab_ready \
        || fail "the lab did not come up"
}

lab_ready() {
    pc_alive || fail "portcullis exited before the lab was ready"
    grep -q "lab ready" "$PC_LOG"
}

# lab_stop: end the lab with SIGINT and check it removed its namespaces.
lab_stop() {
    pc_stop
    wait_for 10 "lab namespaces to go" no_lab_namespaces \
        || fail "namespaces left after the lab stopped: $(lab_namespaces | tr '\n' ' ')"
}

no_lab_namespaces() {
    [[ -z $(lab_namespaces) ]]
}

# http_ready: one quick request from the client side was answered.  Fails
# the test at once if portcullis has exited meanwhile.
http_ready() {
    if [[ -n $PC_PID ]] && ! pc_alive; then
        fail "portcullis exited; it was needed to forward"
    fi
    in_ns client curl -s -o /dev/null --max-time 2 "http://$SERVER4/"
}

wait_http() {
    wait_for 20 "HTTP to answer through portcullis" http_ready \
        || fail "no HTTP answer from $SERVER4 through the lab"
}

# curl_rc ARGS...: run curl in the client namespace; print its exit code.
curl_rc() {
    local rc=0
    in_ns client curl -sS -o /dev/null "$@" 2>>"$WORK/curl.log" || rc=$?
    echo "$rc"
}

# eve_count SID [ACTION]: alert events for SID (with that alert.action when
# given) in EVE.  Fails the test if EVE holds a line that is not JSON.
eve_count() {
    local sid=$1 action=${2:-}
    [[ -s ${EVE:-} ]] || { echo 0; return 0; }
    jq -s --argjson sid "$sid" --arg action "$action" '
        [ .[] | select(.event_type == "alert"
                       and .alert.signature_id == $sid
                       and ($action == "" or .alert.action == $action)) ]
        | length' "$EVE" || fail "$EVE is not a file of JSON lines"
}

# eve_alerts: every alert in EVE as "sid action" lines (for messages).
eve_alerts() {
    [[ -s ${EVE:-} ]] || return 0
    jq -r 'select(.event_type == "alert")
           | "\(.alert.signature_id) \(.alert.action)"' "$EVE" | sort | uniq -c
}

# expect_alerts SID ACTION N: exactly N alerts for SID with ACTION.
expect_alerts() {
    local sid=$1 action=$2 want=$3 got
    got=$(eve_count "$sid" "$action")
    [[ $got == "$want" ]] || fail "expected $want '$action' alert(s) for" \
        "sid $sid, found $got; alerts: $(eve_alerts | tr '\n' ';')"
}

# topology_devices: the two [[device]] tables of scripts/topology-up.sh's
# layout, for a `run --config` file.
topology_devices() {
    cat <<TOML
[[device]]
name = "$P-tun-c"
netns = "$P-client"
kind = "tun"

[[device]]
name = "$P-tun-s"
netns = "$P-server"
kind = "tun"
TOML
}

# crafted_topology: scripts/topology-up.sh's layout for tests whose client
# crafts TCP with raw sockets. The client kernel has no socket for those
# connections and would reset them, so its RSTs are dropped (in the
# client namespace only).
crafted_topology() {
    command -v nft >/dev/null || fail "nft is missing: install nftables (scripts/deps.sh)"
    "$REPO/scripts/topology-up.sh" "$P" >/dev/null || fail "topology-up failed"
    in_ns client nft -f - <<'NFT' || fail "nft could not load the RST filter"
table inet crafted {
    chain out {
        type filter hook output priority 0; policy accept;
        tcp flags & rst == rst drop
    }
}
NFT
}

# start_sink: flood.py's TCP sink on port 9000 in the server namespace,
# waited for until it listens.
start_sink() {
    bg_ns server sink python3 "$NT_DIR/flood.py" sink :: 9000 \
        --ready "$WORK/sink-ready"
    wait_for 10 "the sink" test -e "$WORK/sink-ready" || fail "sink did not start"
}
