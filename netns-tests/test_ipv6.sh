#!/usr/bin/env bash
# IPv6 goes through the lab too: a TCP transfer between fd00:0:0:1::2 and
# fd00:0:0:2::2 arrives intact, and a rule without addresses (sid 1000008,
# the test string) alerts on it with IPv6 addresses in EVE.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

# An address still in duplicate address detection cannot be bound yet.
no_tentative() {
    [[ -z $(in_ns "$1" ip -6 addr show tentative) ]]
}

lab_start --mode ids
wait_http
wait_for 10 "IPv6 addresses to be usable" no_tentative client || fail "DAD"
wait_for 10 "IPv6 addresses to be usable" no_tentative server || fail "DAD"

bg_ns server listen python3 "$NT_DIR/netio.py" listen "$SERVER6" 9000 \
    "$WORK/got" --ready "$WORK/ready" --idle 4
listener=$BG_PID
wait_for 10 "the listener" test -e "$WORK/ready" || fail "listener did not start"
in_ns client python3 "$NT_DIR/netio.py" send "$SERVER6" 9000 --pause 0 \
    "hello over IPv6 " PORTCULLIS-TEST-ALERT || fail "sending over IPv6 failed"
wait_for 20 "the listener to finish" pid_gone "$listener" \
    || fail "listener still running"
[[ $(cat "$WORK/got") == "hello over IPv6 PORTCULLIS-TEST-ALERT" ]] \
    || fail "listener got '$(cat "$WORK/got")'"

lab_stop
expect_alerts 1000008 allowed 1
src=$(jq -r 'select(.event_type == "alert" and .alert.signature_id == 1000008)
    | .src_ip' "$EVE")
[[ $src == fd00:0:0:1::2 ]] \
    || fail "alert src_ip is '$src', expected fd00:0:0:1::2"
echo "ok: IPv6 forwarded and inspected"
