#!/usr/bin/env bash
# The lab leaves nothing behind: after Ctrl-C (SIGINT), and after a crash
# (SIGKILL) followed by `portcullis lab down`, no namespace or device with
# the prefix remains and the HTTP server the lab started is gone.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

# Nothing named after the prefix anywhere: namespaces, host devices.
assert_clean() {
    local ns links
    ns=$(lab_namespaces)
    [[ -z $ns ]] || fail "$1: namespaces left: $ns"
    links=$(ip -o link show | awk -F': ' -v p="$P-" 'index($2, p) == 1 { print $2 }')
    [[ -z $links ]] || fail "$1: devices left: $links"
}

# Processes the lab runs in its server namespace (the HTTP server).
server_pids() {
    ip netns pids "$P-server"
}

all_gone() {
    local pid
    for pid in "$@"; do
        pid_gone "$pid" || return 1
    done
}

note "Ctrl-C"
lab_start --mode ips
wait_http
pids=$(server_pids)
[[ -n $pids ]] || fail "no process in $P-server, where is the HTTP server?"
pc_stop
# shellcheck disable=SC2086
wait_for 10 "server processes to end" all_gone $pids \
    || fail "after SIGINT, processes still run: $pids"
assert_clean "after SIGINT"

note "crash, then lab down"
lab_start --mode ips
wait_http
pids=$(server_pids)
kill -KILL "$PC_PID"
wait "$PC_PID" 2>/dev/null || true
PC_PID=""
"$PORTCULLIS" lab down --prefix "$P" || fail "lab down exit $?"
# shellcheck disable=SC2086
wait_for 10 "server processes to end" all_gone $pids \
    || fail "after lab down, processes still run: $pids"
assert_clean "after lab down"
"$PORTCULLIS" lab down --prefix "$P" || fail "a second lab down failed (exit $?)"
echo "ok: nothing left behind"
