#!/usr/bin/env bash
# Memory flood: portcullis (IPS) between scripts/topology-up.sh's
# namespaces, with small caps in its config, is flooded from the client
# with (netns-tests/flood.py):
#   - CONNS crafted TCP connections, more than the flow cap, each sending
#     INORDER segments in order (a window of delivered bytes is kept per
#     direction) and then SEGS segments past a one-byte hole (held,
#     undelivered, against the stream memcap);
#   - FRAGS IPv4 and FRAGS IPv6 first fragments whose datagrams never
#     complete (held against the defrag memcap).
# Meanwhile portcullis's VmRSS is sampled; at the end its VmHWM (peak
# RSS) must stay under a bound derived from the caps:
#
#   baseline (after start-up and one download)
#   + 2 x stream memcap       (held bytes, out-of-order and the windows
#                              of delivered bytes alike, are charged by
#                              length; x2 for vector capacity)
#   + defrag memcap, 32 MiB   (src/stream/defrag.rs default; not
#                              settable in the config; it charges
#                              per-fragment bookkeeping too)
#   + flow cap x 4 KiB        (a flow's own state: ~0.7 KiB measured
#                              with 30000 flows; room to spare)
#   + 16 MiB of slack         (allocator, device buffers)
#
# The flood offers several times that, and the stats event must show the
# stream and defrag memcaps were hit, so the bound is not vacuous.  Then
# normal traffic must still work: a 1 MB download byte-exact over IPv4,
# and a message over IPv6.  Prints the baseline, peak and bound in MiB.
#
# FLOOD_CONNS, FLOOD_INORDER, FLOOD_SEGS, FLOOD_FRAGS, FLOOD_FLOW_CAP and
# FLOOD_WINDOW change the sizes (defaults below); FLOOD_MODE=ids runs
# portcullis in IDS mode instead of IPS.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

CLIENT6=fd00:0:0:1::2
FLOW_CAP=${FLOOD_FLOW_CAP:-512}
MEMCAP=$((4 * 1024 * 1024))
WINDOW=${FLOOD_WINDOW:-$((8 * 1024))}
DEFRAG_MEMCAP=$((32 * 1024 * 1024))
CONNS=${FLOOD_CONNS:-2000}
INORDER=${FLOOD_INORDER:-12}
SEGS=${FLOOD_SEGS:-30}
FRAGS=${FLOOD_FRAGS:-60000}

crafted_topology

mkdir "$WORK/www"
head -c 1000000 /dev/urandom >"$WORK/www/file.bin"
bg_ns server http python3 -m http.server --bind "$SERVER4" \
    --directory "$WORK/www" 80
start_sink

cat >"$WORK/flood.rules" <<'RULES'
drop tcp any any -> any 9000 (msg:"flood test attack"; flow:established,to_server; content:"ATTACKPAYLOAD-XYZZY"; sid:3000002; rev:1;)
RULES
EVE=$WORK/eve.json
cat >"$WORK/run.toml" <<TOML
mode = "${FLOOD_MODE:-ips}"
rules = ["$WORK/flood.rules"]
eve-log = "$EVE"

[vars]
HOME_NET = "[198.18.0.0/15,fd00::/8]"

[flow]
cap = $FLOW_CAP

[stream]
memcap = $MEMCAP
window = $WINDOW

TOML
topology_devices >>"$WORK/run.toml"

pc_start run --config "$WORK/run.toml"
wait_for 30 "HTTP through portcullis" http_ready || fail "no HTTP through portcullis"

# download: the test file through portcullis, byte-exact.
download() {
    rm -f "$WORK/got.bin"
    in_ns client curl -sS --max-time 20 -o "$WORK/got.bin" \
        "http://$SERVER4/file.bin" 2>>"$WORK/curl.log" \
        || fail "download failed: $(tail -n 1 "$WORK/curl.log")"
    cmp -s "$WORK/www/file.bin" "$WORK/got.bin" || fail "download corrupted"
}

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$PC_PID/status"; }

download
base=$(kib VmRSS)
[[ -n $base ]] || fail "cannot read portcullis's VmRSS"

# Sample VmRSS every 0.1 s (information: VmHWM is the real peak).
(
    while kill -0 "$PC_PID" 2>/dev/null; do
        awk '$1 == "VmRSS:" { print $2 }' "/proc/$PC_PID/status" 2>/dev/null
        sleep 0.1
    done
) >"$WORK/rss.samples" &
BG_PIDS+=("$!")

note "flood: $CONNS connections x ($INORDER in order + $SEGS out of order)" \
    "segments, $FRAGS incomplete IPv4 and IPv6 datagrams"
in_ns client timeout 240 python3 "$NT_DIR/flood.py" flood \
    --src4 "$CLIENT4" --dst4 "$SERVER4" --src6 "$CLIENT6" --dst6 "$SERVER6" \
    --port 9000 --conns "$CONNS" --inorder "$INORDER" --segs "$SEGS" \
    --frags "$FRAGS" >"$WORK/flood.out" 2>"$WORK/flood.log" \
    || fail "flood.py failed: $(cat "$WORK/flood.out" "$WORK/flood.log")"
sed 's/^/   sent /' "$WORK/flood.out"

pc_alive || fail "portcullis died during the flood"
# Let portcullis drain what is queued on its devices.
drained() {
    local a b
    a=$(kib VmRSS)
    sleep 1
    b=$(kib VmRSS)
    [[ $a == "$b" ]]
}
wait_for 20 "portcullis to settle" drained || true

note "normal traffic after the flood"
download
in_ns server timeout 20 python3 "$NT_DIR/netio.py" listen "$SERVER6" 9100 \
    "$WORK/v6.got" --ready "$WORK/v6.ready" --idle 3 &
v6_listener=$!
wait_for 10 "the IPv6 listener" test -e "$WORK/v6.ready" || fail "no v6 listener"
in_ns client timeout 20 python3 "$NT_DIR/netio.py" send "$SERVER6" 9100 \
    --pause 0 after-the-flood || fail "IPv6 connection after the flood failed"
wait "$v6_listener" || true
[[ $(cat "$WORK/v6.got" 2>/dev/null) == after-the-flood ]] \
    || fail "IPv6 message after the flood arrived as '$(cat "$WORK/v6.got")'"

hwm=$(kib VmHWM)
peak_sampled=$(sort -n "$WORK/rss.samples" | tail -n 1)
pc_stop

bound=$((base + 2 * MEMCAP / 1024 + DEFRAG_MEMCAP / 1024 + FLOW_CAP * 4 + 16 * 1024))
offered=$(awk '$1 ~ /_bytes$/ { s += $2 } END { print int(s / 1024) }' "$WORK/flood.out")
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo "RSS baseline $(mib "$base") MiB; peak (VmHWM) $(mib "$hwm") MiB;" \
    "highest sample $(mib "${peak_sampled:-0}") MiB; bound $(mib "$bound") MiB;" \
    "flood offered $(mib "$offered") MiB"

stats=$(jq -c 'select(.event_type == "stats") | .stats' "$EVE" | tail -n 1)
[[ -n $stats ]] || fail "no stats event in $EVE"
jq -r '"stats: flows total \(.flow.total) evicted \(.flow.evicted)" +
       " table_full \(.flow.table_full); stream memcap_hits" +
       " \(.stream.memcap_hits); defrag \(.defrag.counters)"' <<<"$stats"
(($(jq '.stream.memcap_hits' <<<"$stats") > 0)) \
    || fail "the flood never reached the stream caps; the bound proves nothing"
(($(jq '.defrag.counters["defrag.memcap_hits"] // 0' <<<"$stats") > 0)) \
    || fail "the flood never reached the defrag memcap; the bound proves nothing"

((hwm <= bound)) || fail "peak RSS $(mib "$hwm") MiB is over the bound $(mib "$bound") MiB"
echo "ok: peak RSS within the cap-derived bound; traffic flows after the flood"
