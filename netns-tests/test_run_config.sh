#!/usr/bin/env bash
# `portcullis run --config` on namespaces and persistent TUNs built by
# scripts/topology-up.sh: traffic flows, rules from the config match (a
# rule file with a bad rule among them does not stop it), a command-line
# --mode overrides the config's, and on SIGINT portcullis detaches without
# removing devices it did not make.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

"$REPO/scripts/topology-up.sh" "$P" >/dev/null || fail "topology-up failed"
bg_ns server http python3 -m http.server --bind "$SERVER4" \
    --directory "$WORK" 80

cat >"$WORK/extra.rules" <<'RULES'
alert tcp any any -> any any (msg:"unknown keyword"; content:"x"; foobar:1; sid:1999101; rev:1;)
alert tcp any any -> any any (msg:"extra good rule"; content:"PORTCULLIS-EXTRA"; sid:1999102; rev:1;)
RULES

EVE=$WORK/eve.run.json
cat >"$WORK/run.toml" <<TOML
mode = "ids"
rules = ["$REPO/rules/", "$WORK/extra.rules"]
eve-log = "$EVE"
classification = "$REPO/rules/classification.config"

[vars]
HOME_NET = "[198.18.0.0/15,fd00::/8]"
HTTP_PORTS = "80"
TOML
topology_devices >>"$WORK/run.toml"

note "run --config, mode overridden to ips"
pc_start run --config "$WORK/run.toml" --mode ips
wait_for 30 "HTTP through portcullis run" http_ready \
    || fail "no HTTP answer through 'portcullis run'"
rc=$(curl_rc --max-time 5 "http://$SERVER4/PORTCULLIS-TEST-ALERT")
((rc == 0)) || fail "alert-only request failed (curl exit $rc)"
rc=$(curl_rc --max-time 5 "http://$SERVER4/PORTCULLIS-EXTRA")
((rc == 0)) || fail "request for the extra rule failed (curl exit $rc)"
rc=$(curl_rc --max-time 5 "http://$SERVER4/PORTCULLIS-TEST-DROP")
((rc != 0)) || fail "--mode ips did not override mode = \"ids\": drop rule let the request through"

pc_stop
expect_alerts 1000008 allowed 1
expect_alerts 1000009 blocked 1
expect_alerts 1999102 allowed 1

# The devices belong to the topology, not to portcullis.
ip -n "$P-client" link show "$P-tun-c" >/dev/null \
    || fail "$P-tun-c disappeared when portcullis stopped"
"$REPO/scripts/topology-down.sh" "$P"
[[ -z $(lab_namespaces) ]] || fail "topology-down left namespaces"
echo "ok: run --config forwards, matches and detaches"
