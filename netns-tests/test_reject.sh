#!/usr/bin/env bash
# `reject` rules answer instead of staying silent.  TCP (sid 1000006,
# GET /reject-me): curl fails with exit code 56 ("connection reset") at
# once, not 28 (timeout).  UDP (sid 1000016, to port 9002): the sender gets
# ICMP administratively prohibited (EHOSTUNREACH on a connected socket) and
# the listener gets nothing.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

lab_start --mode ips
wait_http
rc=$(curl_rc --max-time 10 "http://$SERVER4/reject-me")
case $rc in
    56) ;;
    28) fail "curl timed out (exit 28): the request was dropped, not reset" ;;
    *) fail "curl exit $rc, expected 56 (connection reset)" ;;
esac
# The server side got its RST too: a fresh request is served normally.
rc=$(curl_rc --fail --max-time 5 "http://$SERVER4/")
((rc == 0)) || fail "a benign request after the reject failed (curl exit $rc)"

note "UDP reject"
bg_ns server udpsink python3 "$NT_DIR/netio.py" udp-sink "$SERVER4" 9002 \
    "$WORK/udp.got" --ready "$WORK/udp.ready" --idle 30
wait_for 10 "the UDP listener" test -e "$WORK/udp.ready" \
    || fail "UDP listener did not start"
# Control: an ordinary datagram reaches the listener and nothing answers.
got=$(in_ns client python3 "$NT_DIR/netio.py" udp-send "$SERVER4" 9002 hello)
[[ $got == silence ]] || fail "UDP control datagram: expected silence, got $got"
got=$(in_ns client python3 "$NT_DIR/netio.py" udp-send "$SERVER4" 9002 \
    PORTCULLIS-UDP-REJECT)
[[ $got == EHOSTUNREACH ]] \
    || fail "UDP reject: expected EHOSTUNREACH (ICMP admin prohibited), got $got"
grep -q hello "$WORK/udp.got" || fail "the control datagram did not arrive"
if grep -q PORTCULLIS-UDP-REJECT "$WORK/udp.got"; then
    fail "the rejected datagram reached the listener"
fi

lab_stop
expect_alerts 1000006 blocked 1
expect_alerts 1000016 blocked 1
echo "ok: TCP reset with exit 56, UDP answered with admin prohibited"
