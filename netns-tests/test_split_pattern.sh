#!/usr/bin/env bash
# A pattern split over two TCP segments is still found, since the stream
# is reassembled.  The client sends "knock-knock-", waits a second, then
# sends "portcullis" to tcp/9000 (sid 1000011, a `drop` rule).  In IDS mode
# the listener gets everything and the alert says "allowed"; in IPS mode
# the second segment is dropped, so the listener never sees the phrase.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

PHRASE=knock-knock-portcullis

# split_run MODE: run one lab in MODE; the listener's data ends up in
# $WORK/got.MODE.
split_run() {
    local mode=$1
    lab_start --mode "$mode"
    wait_http
    bg_ns server listen python3 "$NT_DIR/netio.py" listen "$SERVER4" 9000 \
        "$WORK/got.$mode" --ready "$WORK/ready.$mode" --idle 4
    local listener=$BG_PID
    wait_for 10 "the listener" test -e "$WORK/ready.$mode" \
        || fail "listener did not start"
    in_ns client python3 "$NT_DIR/netio.py" send "$SERVER4" 9000 \
        --pause 1 knock-knock- portcullis \
        || [[ $mode == ips ]] || fail "$mode: sending failed"
    wait_for 20 "the listener to finish" pid_gone "$listener" \
        || fail "listener still running"
    touch "$WORK/got.$mode"
    lab_stop
}

note "IDS mode"
split_run ids
grep -q "$PHRASE" "$WORK/got.ids" \
    || fail "IDS: listener got '$(cat "$WORK/got.ids")', not the phrase"
expect_alerts 1000011 allowed 1

note "IPS mode"
split_run ips
grep -q knock-knock- "$WORK/got.ips" \
    || fail "IPS: not even the first half arrived; was the lab forwarding?"
if grep -q "$PHRASE" "$WORK/got.ips"; then
    fail "IPS: the listener received the whole phrase"
fi
expect_alerts 1000011 blocked 1
echo "ok: split phrase found; dropped in IPS"
