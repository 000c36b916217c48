#!/usr/bin/env bash
# The evasion matrix: an attack sent in many TCP and IP forms (split,
# reordered, overlapping, duplicated, with insertion junk the receiver
# drops, fragmented over IPv4 and IPv6, urgent data) is caught in both
# modes, and benign traffic in the same forms arrives intact in IPS mode.
#
# Topology, built here with persistent TUNs that `portcullis run` attaches
# to, so a real router sits between portcullis and the server (a TTL of 1
# dies there):
#
#   P-client  198.18.0.2 fd00:0:0:1::2  [P-tc TUN]
#        |  portcullis run --config (one run per mode)
#   P-router  [P-tr TUN] 198.18.0.1 fd00:0:0:1::1 -- forwards --
#             [P-vr veth] 198.18.2.1 fd00:0:0:3::1
#        |
#   P-server  [P-vs veth] 198.18.2.2 fd00:0:0:3::2, listener on 9000
#
# The client crafts every connection, handshake included, with scapy
# (netns-tests/evasion.py): the client kernel has no socket for it and
# would reset it, so an nftables rule in the client namespace drops the RSTs
# it sends.  The listener records what its application reads per
# connection (by client port).  Forms and why each is laid out as it is:
# see evasion.py.
#
# Cells: IPS caught = the listener never got the attack bytes whole and
# EVE has a blocked sid 3000001 alert for that connection; IDS caught =
# an allowed sid 3000001 alert.  For bad-checksum and ttl-expiry, no
# attack alert may come from the junk packet (its payload); the same
# for paws, no-ack and bad-ack.  Benign:
# the listener got exactly the benign stream in IPS mode.  The "target"
# column says whether the listener got the attack whole in IDS mode
# (information only: it shows the form is a working attack on Linux).
#
# EVASION_FORMS="form ..." runs only those forms (names: evasion.py);
# frag4-timeout, which waits 35 s, only runs when named there.
# EVASION_PCAP=1 records the client side of each mode's run with tcpdump
# to $WORK/client.MODE.pcap (with KEEP_WORK=1, for `portcullis replay`).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_root
lab_init

PY=/usr/bin/python3
EVASION=$NT_DIR/evasion.py
ATTACK=ATTACKPAYLOAD-XYZZY
BENIGN=BENIGNPAYLOAD-HELLO
PORT=9000
C4=198.18.0.2 R4C=198.18.0.1 R4S=198.18.2.1 S4=198.18.2.2
C6=fd00:0:0:1::2 R6C=fd00:0:0:1::1 R6S=fd00:0:0:3::1 S6=fd00:0:0:3::2

"$PY" -c 'import scapy.all' 2>/dev/null \
    || fail "$PY cannot import scapy: install python3-scapy (scripts/deps.sh)"
command -v nft >/dev/null || fail "nft is missing: install nftables (scripts/deps.sh)"

# ---------------------------------------------------------------- topology
ns() { echo "$P-$1"; }
for side in client router server; do
    ip netns add "$(ns $side)"
    ip -n "$(ns $side)" link set lo up
done
ip netns exec "$(ns client)" ip tuntap add mode tun name "$P-tc"
ip netns exec "$(ns router)" ip tuntap add mode tun name "$P-tr"
ip link add "$P-vr" netns "$(ns router)" type veth peer name "$P-vs" \
    netns "$(ns server)"

addr() { # NS DEV ADDR4 ADDR6
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$1" addr add "$4" dev "$2" nodad
    ip -n "$1" link set "$2" up
}
addr "$(ns client)" "$P-tc" $C4/24 $C6/64
addr "$(ns router)" "$P-tr" $R4C/24 $R6C/64
addr "$(ns router)" "$P-vr" $R4S/24 $R6S/64
addr "$(ns server)" "$P-vs" $S4/24 $S6/64
# Routes only for the lab's prefixes; no default route anywhere.
ip -n "$(ns client)" route add 198.18.2.0/24 dev "$P-tc"
ip -n "$(ns client)" -6 route add fd00:0:0:3::/64 dev "$P-tc"
ip -n "$(ns server)" route add 198.18.0.0/24 via $R4S
ip -n "$(ns server)" -6 route add fd00:0:0:1::/64 via $R6S
in_ns router sysctl -qw net.ipv4.ip_forward=1
in_ns router sysctl -qw net.ipv6.conf.all.forwarding=1

# The crafted connections have no socket in the client kernel: drop the
# RSTs it would answer the server with (client namespace only; a
# stateless rule, so no conntrack and no defragmentation on output).
# evasion.py sends its own RSTs with TTL / hop limit 65.
in_ns client nft -f - <<'NFT' || fail "nft could not load the RST filter"
table inet evasion {
    chain out {
        type filter hook output priority 0; policy accept;
        meta nfproto ipv4 tcp flags & rst == rst ip ttl != 65 drop
        meta nfproto ipv6 tcp flags & rst == rst ip6 hoplimit != 65 drop
    }
}
NFT

cat >"$WORK/evasion.rules" <<'RULES'
drop tcp any any -> any 9000 (msg:"evasion attack"; flow:established,to_server; content:"ATTACKPAYLOAD-XYZZY"; sid:3000001; rev:1;)
RULES

cat >"$WORK/run.toml" <<TOML
mode = "ips"
rules = ["$WORK/evasion.rules"]

[vars]
HOME_NET = "[198.18.0.0/15,fd00::/8]"
EXTERNAL_NET = "!\$HOME_NET"

[[device]]
name = "$P-tc"
netns = "$P-client"
kind = "tun"

[[device]]
name = "$P-tr"
netns = "$P-router"
kind = "tun"
TOML

GOT=$WORK/got
bg_ns server listener "$PY" "$EVASION" serve :: $PORT "$GOT" \
    --ready "$WORK/listening" --idle 3
wait_for 10 "the listener" test -e "$WORK/listening" \
    || fail "listener did not start"

pings() {
    pc_alive || fail "portcullis exited; it was needed to forward"
    in_ns client ping -c1 -W1 -q $S4 >/dev/null 2>&1 \
        && in_ns client ping -c1 -W1 -q $S6 >/dev/null 2>&1
}

# send_forms BASE PAYLOAD [--consistent]: every form, source ports from
# BASE; the form -> port map goes to $WORK/ports.BASE.
send_forms() {
    local base=$1 payload=$2
    shift 2
    # shellcheck disable=SC2086 # a list of form names
    set -- "$@" ${EVASION_FORMS:-}
    in_ns client timeout 300 "$PY" "$EVASION" send --src4 $C4 --dst4 $S4 \
        --src6 $C6 --dst6 $S6 --port $PORT --payload "$payload" \
        --sport-base "$base" "$@" >"$WORK/ports.$base" \
        2>"$WORK/send.$base.log" || fail "evasion.py send failed"
    if grep -Ev ' (sent|n/a)$' "$WORK/ports.$base"; then
        fail "some connections did not open (above)"
    fi
}

# all_done BASE: the listener finished every connection of that run.
all_done() {
    local port status
    while read -r _ port status; do
        [[ $status == n/a || -e $GOT/$port.done ]] || return 1
    done <"$WORK/ports.$1"
}

# run_mode MODE BASE...: portcullis in MODE; attack forms from port BASE
# (and, in IPS, benign forms from BASE+100).
run_mode() {
    local mode=$1 base=$2
    EVE=$WORK/eve.$mode.json
    pc_start run --config "$WORK/run.toml" --mode "$mode" --eve-log "$EVE"
    local tcpdump=""
    if [[ ${EVASION_PCAP:-0} == 1 ]]; then
        bg_ns client "tcpdump.$mode" tcpdump -U --immediate-mode -n \
            -i "$P-tc" \
            -w "$WORK/client.$mode.pcap"
        tcpdump=$BG_PID
    fi
    wait_for 30 "ping through portcullis ($mode)" pings \
        || fail "no ping through portcullis ($mode)"
    note "$mode: attack forms"
    send_forms "$base" "$ATTACK"
    if [[ $mode == ips ]]; then
        note "$mode: benign forms"
        send_forms $((base + 100)) "$BENIGN" --consistent
    fi
    wait_for 30 "the listener to finish" all_done "$base" \
        || fail "listener still has connections open"
    [[ $mode != ips ]] || wait_for 30 "the listener to finish" \
        all_done $((base + 100)) || fail "listener still has connections"
    # Stopping flushes what is still held, so every alert is in EVE.
    kill -INT "$PC_PID"
    wait_for 20 "portcullis to exit" pid_gone "$PC_PID" \
        || fail "portcullis did not exit on SIGINT"
    wait "$PC_PID" 2>/dev/null || true
    PC_PID=""
    if [[ -n $tcpdump ]]; then
        kill "$tcpdump"
        wait "$tcpdump" 2>/dev/null || true
    fi
    # "sport action junk" for each attack alert.
    jq -r --arg junk JUNK 'select(.event_type == "alert"
              and .alert.signature_id == 3000001)
           | [.src_port, .alert.action,
              ((.payload_printable // "") | contains($junk))]
           | map(tostring) | join(" ")' "$EVE" \
        >"$WORK/alerts.$mode" || fail "$EVE is not JSON lines"
}

# alerts MODE PORT ACTION: attack alerts for that connection.
alerts() {
    awk -v p="$2" -v a="$3" '$1 == p && $2 == a' "$WORK/alerts.$1" | wc -l
}
junk_alerts() {
    awk -v p="$2" '$1 == p && $3 == "true"' "$WORK/alerts.$1" | wc -l
}
has_attack() {
    [[ -e $GOT/$1.bin ]] && grep -q "$ATTACK" "$GOT/$1.bin"
}

run_mode ids 20000
run_mode ips 21000

# ---------------------------------------------------------------- verdicts
bad=0
printf '\n%-24s %-9s %-9s %-14s %s\n' form ids ips "target(ids)" "benign(ips)"
printf '%-24s %-9s %-9s %-14s %s\n' ---- --- --- ----------- -----------
while read -r form port _; do
    ids_port=$port
    ips_port=$((port + 1000))
    ben_port=$((port + 1100))
    ids=caught ips=caught benign=intact target=got-attack
    junk_form=0
    [[ $form =~ ^(bad-checksum|ttl-expiry|paws|no-ack|bad-ack) ]] \
        && junk_form=1

    (($(alerts ids "$ids_port" allowed) >= 1)) || ids=missed
    ((junk_form == 0 || $(junk_alerts ids "$ids_port") == 0)) || ids=junk-alert
    has_attack "$ids_port" || target=no-attack

    (($(alerts ips "$ips_port" blocked) >= 1)) || ips=no-alert
    has_attack "$ips_port" && ips=missed
    ((junk_form == 0 || $(junk_alerts ips "$ips_port") == 0)) || ips=junk-alert

    want=$(printf 'hello:%s:bye\n' "$BENIGN")
    if [[ ! -e $GOT/$ben_port.bin ]] \
        || [[ $(cat "$GOT/$ben_port.bin"; echo .) != "$want"$'\n.' ]]; then
        benign=broken
    fi
    (($(alerts ips "$ben_port" blocked) + $(alerts ips "$ben_port" allowed) == 0)) \
        || benign=alerted
    if grep -q "^$form $ben_port n/a$" "$WORK/ports.21100"; then
        benign=n/a
    fi

    [[ $ids == caught && $ips == caught && $benign =~ ^(intact|n/a)$ ]] \
        || bad=$((bad + 1))
    printf '%-24s %-9s %-9s %-14s %s\n' "$form" "$ids" "$ips" "$target" "$benign"
done <"$WORK/ports.20000"
echo "ids/ips: caught; missed (no alert, and in IPS the listener got the"
echo "attack whole); no-alert (IPS: the attack did not get through, but"
echo "there was no attack alert); junk-alert (the junk packet alerted)."
echo "benign: intact; broken (not exactly the benign stream); alerted;"
echo "n/a (the form has no benign version)."
echo

((bad == 0)) || fail "$bad form(s) with a cell that is not caught / intact"
echo "ok: every evasion form caught in IDS and IPS; benign forms intact"
