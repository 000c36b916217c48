#!/usr/bin/env bash
# HTTP rules match what the server actually interpreted.  The lab runs
# without its own HTTP server; netns-tests/httpsrv.py serves instead and
# logs, per request, the target as received and the path it resolved and
# served.  Rules: netns-tests/http/normalisation.rules (sids 4000001+).
#
# IDS mode: four spellings of /secret/admin (.., ., //, %73) all resolve to
# the same file on the server and each raises the http.uri alert once; the
# http.uri.raw rule matches only its own spelling; http.method,
# http.user_agent, http.host (lowercased, port removed) and http.host.raw,
# http.header, http.stat_code; a chunked response whose marker spans two
# chunks (http.response_body); a gzip response whose marker is only in the
# decoded body (file_data alerts, a stream content rule does not); three
# pipelined GETs in one write, two matching (two alerts).  IPS mode: a
# `drop` on the normalised URI blocks a ..-obfuscated request before the
# server sees it, and a benign request still passes.  Prints a table.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

RULES=$NT_DIR/http/normalisation.rules
URL=http://$SERVER4

# The web root: what each path resolves to on disk.
WWW=$WORK/www
mkdir -p "$WWW/secret" "$WWW/public" "$WWW/vault" "$WWW/pipe"
echo "admin console" >"$WWW/secret/admin"
echo "hello" >"$WWW/public/hello"
echo "vault key" >"$WWW/vault/key"
for p in hit-1 miss hit-2; do echo "pipe $p" >"$WWW/pipe/$p"; done

# --- results table --------------------------------------------------------
ROWS=()
FAILED=0
# check NAME WANT GOT: record one row; a mismatch fails the test at the end.
check() {
    local name=$1 want=$2 got=$3 res=ok
    if [[ $got != "$want" ]]; then
        res=FAIL
        FAILED=$((FAILED + 1))
    fi
    ROWS+=("$(printf '%-52s %-12s %-12s %s' "$name" "$want" "$got" "$res")")
}
print_table() {
    printf '%-52s %-12s %-12s %s\n' check want got result
    printf '%s\n' "${ROWS[@]}"
}

# --- helpers --------------------------------------------------------------
# srv_start MODE: our HTTP server on SERVER4:80; its request log is
# $WORK/served.MODE.
srv_start() {
    local mode=$1
    SERVED=$WORK/served.$mode
    : >"$SERVED"
    bg_ns server "httpsrv.$mode" python3 "$NT_DIR/httpsrv.py" \
        "$SERVER4" 80 "$WWW" "$SERVED" --ready "$WORK/ready.$mode"
    wait_for 10 "the HTTP server" test -e "$WORK/ready.$mode" \
        || fail "httpsrv.py did not start"
}

# fetch ARGS...: curl in the client namespace; prints the body.  Fails the
# test if curl fails (IDS mode lets everything through).
fetch() {
    in_ns client curl -sS --max-time 5 "$@" 2>>"$WORK/curl.log" \
        || fail "curl $* failed (exit $?)"
}

# served RAW: the path the server resolved for request target RAW (the
# last such request), or "none".
served() {
    awk -v raw="$1" '$2 == "RAW" && $3 == raw { r = $5 } END { print r ? r : "none" }' "$SERVED"
}

# alerts_at_least N: EVE holds at least N alerts (any sid).
alerts_at_least() {
    [[ -s $EVE ]] || return 1
    (($(jq -s '[.[] | select(.event_type == "alert")] | length' "$EVE") >= $1))
}

# ==========================================================================
note "IDS mode"
lab_start --mode ids --no-http --rules "$RULES"
srv_start ids
wait_http

note "URI spellings of /secret/admin"
SPELLINGS=(/public/../secret/admin /secret/./admin //secret//admin /%73ecret/admin)
for u in "${SPELLINGS[@]}"; do
    body=$(fetch --path-as-is "$URL$u")
    check "server: $u -> file" "admin" "$( [[ $body == "admin console" ]] && echo admin || echo "${body:-empty}")"
    check "server: $u resolved" /secret/admin "$(served "$u")"
done
# The control for the IPS part: on IDS the obfuscated request reaches the
# vault, so the drop below is what stops it.
body=$(fetch --path-as-is "$URL/public/../vault/key")
check "server: /public/../vault/key -> file (IDS)" "vault key" "$body"
check "server: /public/../vault/key resolved" /vault/key "$(served /public/../vault/key)"

note "method, user agent, host, header, status"
fetch -X PUT --data-binary x "$URL/upload" >/dev/null
fetch -A "NT-Probe/4.2" "$URL/public/hello" >/dev/null
fetch -H "Host: LAB.Example.TEST:80" "$URL/public/hello" >/dev/null
fetch -H "X-NT-Probe: yes-4000007" "$URL/public/hello" >/dev/null
code=$(fetch -o /dev/null -w '%{http_code}' "$URL/teapot")
check "server: /teapot status" 418 "$code"

note "chunked response (fetched twice: decoded, and --raw)"
body=$(fetch "$URL/chunked")
check "client: dechunked body has MARKER-CHUNKED" 1 "$(grep -c MARKER-CHUNKED <<<"$body" || true)"
body=$(fetch --raw "$URL/chunked")
check "client: raw chunked wire lacks MARKER-CHUNKED" 0 "$(grep -c MARKER-CHUNKED <<<"$body" || true)"

note "gzip response"
fetch -o "$WORK/gzip.raw" "$URL/gzip"
check "client: gzip wire bytes lack MARKER-GZIP" 0 "$(grep -ac MARKER-GZIP "$WORK/gzip.raw" || true)"
decoded=$(python3 -c 'import gzip, sys; sys.stdout.write(gzip.decompress(open(sys.argv[1], "rb").read()).decode())' "$WORK/gzip.raw")
check "client: gunzipped body has MARKER-GZIP" 1 "$(grep -c MARKER-GZIP <<<"$decoded" || true)"

note "three pipelined requests in one write"
# shellcheck disable=SC2016 # Python, not shell
pipelined=$(in_ns client python3 -c '
import socket, sys
host = sys.argv[1]
reqs = b"".join(b"GET /pipe/%s HTTP/1.1\r\nHost: %s\r\n%s\r\n"
                % (p, host.encode(), b"Connection: close\r\n" if p == b"hit-2" else b"")
                for p in (b"hit-1", b"miss", b"hit-2"))
s = socket.create_connection((host, 80), timeout=5)
s.sendall(reqs)
got = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    got += d
print(got.count(b"HTTP/1.1 200 OK"))
' "$SERVER4") || fail "the pipelined client failed"
check "server: pipelined responses (200)" 3 "$pipelined"
check "server: pipelined order" "1,miss,2" \
    "$(awk '$3 ~ /^\/pipe\// { sub(/^\/pipe\/(hit-)?/, "", $5); printf "%s%s", sep, $5; sep = "," }' "$SERVED")"

# IDS judges what the receiver acknowledged; every connection above has
# closed, so wait (bounded) for the 17 alerts expected, then stop the lab,
# which also flushes what is left.
wait_for 10 "the IDS alerts" alerts_at_least 17 || true
lab_stop
check "sid 4000001 http.uri /secret/admin (4 spellings)" 4 "$(eve_count 4000001 allowed)"
check "sid 4000002 http.uri.raw /%73ecret/admin only" 1 "$(eve_count 4000002 allowed)"
# The %73 request was the fourth spelling sent: the raw alert is on its flow.
check "sid 4000002 on the /%73ecret/admin connection" yes "$(jq -rs '
    [.[] | select(.event_type == "alert")] as $a
    | [$a[] | select(.alert.signature_id == 4000001) | .src_port] as $uri
    | [$a[] | select(.alert.signature_id == 4000002) | .src_port] as $raw
    | if ($uri | length) == 4 and $raw == [$uri[3]] then "yes" else "no" end' "$EVE")"
check "sid 4000003 http.method PUT" 1 "$(eve_count 4000003 allowed)"
check "sid 4000004 http.user_agent" 1 "$(eve_count 4000004 allowed)"
check "sid 4000005 http.host lowercased, no port" 1 "$(eve_count 4000005 allowed)"
check "sid 4000006 http.host.raw as sent" 1 "$(eve_count 4000006 allowed)"
check "sid 4000007 http.header custom header" 1 "$(eve_count 4000007 allowed)"
check "sid 4000008 http.response_body chunked (2 GETs)" 2 "$(eve_count 4000008 allowed)"
check "sid 4000009 file_data gzip" 1 "$(eve_count 4000009 allowed)"
check "sid 4000010 stream MARKER-GZIP (must not)" 0 "$(eve_count 4000010)"
check "sid 4000011 pipelined /pipe/hit (2 of 3)" 2 "$(eve_count 4000011 allowed)"
check "sid 4000011 on transactions (tx_id)" "0,2" "$(jq -rs '
    [.[] | select(.event_type == "alert" and .alert.signature_id == 4000011)
     | .tx_id | tostring] | join(",")' "$EVE")"
check "sid 4000012 http.stat_code 418" 1 "$(eve_count 4000012 allowed)"
check "sid 4000013 drop /vault/key, IDS: allowed" 1 "$(eve_count 4000013 allowed)"
check "IDS: alerts in all (no other)" 17 \
    "$(jq -s '[.[] | select(.event_type == "alert")] | length' "$EVE")"

# ==========================================================================
note "IPS mode"
lab_start --mode ips --no-http --rules "$RULES"
srv_start ips
wait_http
rc=$(curl_rc --path-as-is --max-time 5 "$URL/public/../vault/key")
check "IPS: curl /public/../vault/key fails" nonzero "$( ((rc != 0)) && echo nonzero || echo 0)"
rc=$(curl_rc --fail --max-time 5 "$URL/public/hello")
check "IPS: benign /public/hello after it" 0 "$rc"
lab_stop
check "IPS: server never resolved /vault/key" none "$(served /public/../vault/key)"
check "sid 4000013 drop /vault/key, IPS: blocked" 1 "$(eve_count 4000013 blocked)"
check "IPS: sid 4000013 alerts in all" 1 "$(eve_count 4000013)"

print_table
((FAILED == 0)) || fail "$FAILED check(s) failed; see the table"
echo "ok: HTTP buffers match what the server interpreted"
