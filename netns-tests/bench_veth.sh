#!/usr/bin/env bash
# Throughput smoke test (a benchmark, not a pass/fail test; run.sh skips it).
#
# Measures, in one run, iperf3 TCP throughput and a curl download of a
# BENCH_MB file (default 100) between two namespaces
#   1. through the portcullis lab (IPS mode, default rules), and
#   2. over a plain veth pair between two other namespaces,
# and prints Mbit/s for each and the lab/veth ratio.  Numbers depend on
# the machine; nothing here asserts on them.
#
# Usage (as root): netns-tests/bench_veth.sh
#   BENCH_SECONDS=5  iperf3 duration      BENCH_MB=100  download size
#   BENCH_MODE=ips   lab mode
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init
command -v iperf3 >/dev/null || fail "iperf3 is not installed (scripts/deps.sh)"

SECS=${BENCH_SECONDS:-5}
MB=${BENCH_MB:-100}
VETH_A=198.18.10.1
VETH_B=198.18.10.2

mkdir "$WORK/www"
head -c $((MB * 1024 * 1024)) /dev/urandom >"$WORK/www/blob.bin"

# servers SIDE ADDR: iperf3 and an HTTP server for the blob in namespace
# $P-SIDE, on ADDR.
servers() {
    bg_ns "$1" "iperf3.$1" iperf3 -s -B "$2"
    bg_ns "$1" "http.$1" python3 -m http.server --bind "$2" \
        --directory "$WORK/www" 80
}

# measure LABEL SIDE SERVER_ADDR: from namespace $P-SIDE, prints
# "LABEL IPERF_MBPS CURL_MBPS".
measure() {
    local label=$1 side=$2 addr=$3 bps speed
    wait_for 20 "HTTP on $addr" in_ns "$side" \
        curl -s -o /dev/null --max-time 2 "http://$addr/" \
        || fail "$label: no HTTP answer from $addr"
    bps=$(in_ns "$side" iperf3 -c "$addr" -t "$SECS" -J \
        | jq '.end.sum_received.bits_per_second') \
        || fail "$label: iperf3 failed"
    speed=$(in_ns "$side" curl -sS --fail --max-time 300 \
        -o /dev/null -w '%{speed_download}' "http://$addr/blob.bin") \
        || fail "$label: download failed"
    awk -v l="$label" -v b="$bps" -v s="$speed" \
        'BEGIN { printf "%s %.0f %.0f\n", l, b / 1e6, s * 8 / 1e6 }'
}

note "through portcullis (mode ${BENCH_MODE:-ips})"
lab_start --mode "${BENCH_MODE:-ips}" --no-http
servers server "$SERVER4"
lab=$(measure portcullis client "$SERVER4")
lab_stop

note "plain veth pair"
ip netns add "$P-va"
ip netns add "$P-vb"
ip link add "$P-va0" netns "$P-va" type veth peer name "$P-vb0" netns "$P-vb"
ip -n "$P-va" addr add "$VETH_A/24" dev "$P-va0"
ip -n "$P-vb" addr add "$VETH_B/24" dev "$P-vb0"
ip -n "$P-va" link set "$P-va0" up
ip -n "$P-vb" link set "$P-vb0" up
servers vb "$VETH_B"
veth=$(measure veth va "$VETH_B")
stop_bg

read -r _ lab_i lab_c <<<"$lab"
read -r _ veth_i veth_c <<<"$veth"
echo
awk -v li="$lab_i" -v lc="$lab_c" -v vi="$veth_i" -v vc="$veth_c" 'BEGIN {
    printf "%-12s %14s %14s\n", "path", "iperf3 Mbit/s", "curl Mbit/s"
    printf "%-12s %14d %14d\n", "portcullis", li, lc
    printf "%-12s %14d %14d\n", "veth", vi, vc
    printf "%-12s %14.3f %14.3f\n", "ratio", (vi ? li / vi : 0), (vc ? lc / vc : 0)
}'
