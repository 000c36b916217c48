#!/usr/bin/env bash
# Benign HTTP passes through the IPS unchanged: a 10 MB file of random bytes
# downloaded from the server namespace arrives byte for byte, and the
# default ruleset raises no alert on it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

# Our own server, so we know exactly which file is served.
mkdir "$WORK/www"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$WORK/www/blob.bin"
want=$(sha256sum <"$WORK/www/blob.bin")

lab_start --mode ips --no-http
bg_ns server http python3 -m http.server --bind "$SERVER4" \
    --directory "$WORK/www" 80
wait_http

note "download 10 MB through portcullis"
in_ns client curl -sS --fail --max-time 120 -o "$WORK/got.bin" \
    "http://$SERVER4/blob.bin" || fail "download failed"
got=$(sha256sum <"$WORK/got.bin")
[[ $got == "$want" ]] || fail "downloaded file differs (sha256 $got, want $want)"

lab_stop
alerts=$(eve_alerts)
[[ -z $alerts ]] || fail "benign download raised alerts: $alerts"
echo "ok: 10 MB byte-exact, no alerts"
