#!/usr/bin/env bash
# A `reject` rule (sid 1000006, GET /reject-me) resets the connection: curl
# fails with exit code 56 ("connection reset") at once, not 28 (timeout).
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
lab_stop
expect_alerts 1000006 blocked 1
echo "ok: reset with exit 56"
