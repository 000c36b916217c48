#!/usr/bin/env bash
# Regression test (fails until fixed): in IPS mode a full stream memcap
# must not let stream rules be bypassed.  DESIGN.md decision 5: hitting a
# cap applies a policy, IPS default "drop the flow".
#
# 100 idle connections (flood.py, 44 x 1400 bytes in order each) fill a
# 1 MiB stream memcap with their windows.  Then a real connection sends
# an attack split over two 1.3 kB segments (so neither packet holds it).
# Found by test_memory_flood's work: today the segments that do not fit
# skip the stream and are forwarded, the listener gets the attack whole
# and there is no alert.  With the default memcap the same send is
# blocked (checked first, as a control).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

CLIENT6=fd00:0:0:1::2
crafted_topology
start_sink

cat >"$WORK/r.rules" <<'RULES'
drop tcp any any -> any 9001 (msg:"evasion attack"; flow:established,to_server; content:"ATTACKPAYLOAD-XYZZY"; sid:3000001; rev:1;)
RULES

pad() { head -c 1300 /dev/zero | tr '\0' "$1"; }
FIRST="$(pad x)ATTACKPAYLOAD-"
SECOND="XYZZY$(pad y)"

# attempt MEMCAP FLOOD_CONNS: one portcullis run; the listener's bytes
# (x and y padding removed) go to $WORK/got.MEMCAP.
attempt() {
    local memcap=$1 conns=$2 listener
    EVE=$WORK/eve.$memcap.json
    cat >"$WORK/run.toml" <<TOML
mode = "ips"
rules = ["$WORK/r.rules"]
eve-log = "$EVE"

[vars]
HOME_NET = "[198.18.0.0/15,fd00::/8]"

[stream]
memcap = $memcap

TOML
    topology_devices >>"$WORK/run.toml"
    pc_start run --config "$WORK/run.toml"
    ping_ok() { in_ns client ping -c1 -W1 -q "$SERVER4" >/dev/null 2>&1; }
    wait_for 30 "ping through portcullis" ping_ok || fail "no ping through portcullis"
    if ((conns)); then
        in_ns client timeout 120 python3 "$NT_DIR/flood.py" flood \
            --src4 "$CLIENT4" --dst4 "$SERVER4" --src6 "$CLIENT6" \
            --dst6 "$SERVER6" --port 9000 --conns "$conns" --inorder 44 \
            --segs 0 --frags 0 --sport-base 30000 >"$WORK/flood.out" \
            || fail "flood.py failed"
    fi
    rm -f "$WORK/ready"
    in_ns server timeout 30 python3 "$NT_DIR/netio.py" listen "$SERVER4" \
        9001 "$WORK/raw.$memcap" --ready "$WORK/ready" --idle 3 &
    listener=$!
    wait_for 10 "the listener" test -e "$WORK/ready" || fail "no listener"
    in_ns client python3 "$NT_DIR/netio.py" send "$SERVER4" 9001 \
        --pause 0.5 "$FIRST" "$SECOND" || true
    wait "$listener" || true
    tr -d xy <"$WORK/raw.$memcap" >"$WORK/got.$memcap" 2>/dev/null || true
    # The `sink` helper keeps running between the two runs.
    kill -INT "$PC_PID"
    wait_for 20 "portcullis to exit" pid_gone "$PC_PID" || fail "portcullis hung"
    wait "$PC_PID" 2>/dev/null || true
    PC_PID=""
}

note "control: default memcap, no flood"
attempt $((256 * 1024 * 1024)) 0
[[ $(cat "$WORK/got.268435456") == ATTACKPAYLOAD- ]] \
    || fail "control: listener got '$(cat "$WORK/got.268435456")'"
expect_alerts 3000001 blocked 1

note "1 MiB memcap, filled by 100 idle connections"
attempt $((1024 * 1024)) 100
jq -c 'select(.event_type == "stats") | .stats.stream' "$EVE"
if grep -q ATTACKPAYLOAD-XYZZY "$WORK/got.1048576"; then
    fail "stream memcap full: the split attack reached the listener whole" \
        "(alerts: $(eve_alerts | tr '\n' ';'))"
fi
echo "ok: a full stream memcap does not open a way past the stream rules"
