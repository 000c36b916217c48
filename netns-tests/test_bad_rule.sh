#!/usr/bin/env bash
# One bad rule does not spoil a file: check-rules names the file, line and
# unknown keyword, loads the other two and exits 1; a lab started with the
# same file forwards traffic and alerts on a good rule.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

rules=$(mktemp /tmp/portcullis-nt-bad.XXXXXX.rules)
trap 'rm -f "$rules"' EXIT
cat >"$rules" <<'RULES'
alert tcp any any -> any any (msg:"good rule one"; content:"PORTCULLIS-GOOD-ONE"; sid:1999001; rev:1;)
alert tcp any any -> any any (msg:"rule with an unknown keyword"; content:"x"; foobar:1; sid:1999002; rev:1;)
alert tcp any any -> any any (msg:"good rule two"; content:"PORTCULLIS-GOOD-TWO"; sid:1999003; rev:1;)
RULES

note "check-rules"
[[ -x $PORTCULLIS ]] || fail "no binary at $PORTCULLIS (cargo build --release)"
rc=0
out=$("$PORTCULLIS" check-rules "$rules" 2>&1) || rc=$?
echo "$out"
((rc == 1)) || fail "check-rules exit $rc, expected 1"
grep -qF "$rules:2:" <<<"$out" || fail "output does not name $rules:2"
grep -qF "'foobar'" <<<"$out" || fail "output does not name 'foobar'"
grep -qF "2 rules loaded, 1 failed" <<<"$out" || fail "summary line missing"

need_root
lab_init
cp "$rules" "$WORK/mixed.rules"
rm -f "$rules"

note "lab up with the same file"
lab_start --mode ips --rules "$WORK/mixed.rules"
wait_http
rc=$(curl_rc --max-time 5 "http://$SERVER4/PORTCULLIS-GOOD-TWO")
((rc == 0)) || fail "request through the lab failed (curl exit $rc)"
lab_stop
expect_alerts 1999003 allowed 1
echo "ok: bad rule named, the rest loaded and working"
