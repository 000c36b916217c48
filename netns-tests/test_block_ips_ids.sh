#!/usr/bin/env bash
# A request matching a `drop` rule (sid 1000001, shell command in the query)
# is blocked in IPS mode and only reported in IDS mode; either way exactly
# one alert for the sid is written, with action "blocked" or "allowed".
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

SID=1000001
ATTACK="http://$SERVER4/?file=x;cat+/etc/passwd"

note "IPS mode: the request is dropped"
lab_start --mode ips
wait_http
rc=$(curl_rc --max-time 5 "$ATTACK")
((rc != 0)) || fail "IPS: the attack request got through (curl exit 0)"
# Only the attacking flow is dropped; a new connection still works.
rc=$(curl_rc --fail --max-time 5 "http://$SERVER4/")
((rc == 0)) || fail "IPS: a benign request after the drop failed (curl exit $rc)"
lab_stop
expect_alerts "$SID" blocked 1
expect_alerts "$SID" "" 1

note "IDS mode: the same request passes and is reported"
lab_start --mode ids
wait_http
rc=$(curl_rc --fail --max-time 5 "$ATTACK")
((rc == 0)) || fail "IDS: the request failed (curl exit $rc)"
lab_stop
expect_alerts "$SID" allowed 1
expect_alerts "$SID" "" 1
echo "ok: blocked in IPS, allowed in IDS, one alert each"
