#!/usr/bin/env bash
# Build the lab topology by hand, for `portcullis run --config`.
#
# Makes the same layout as `portcullis lab up`, with persistent TUN devices
# that portcullis attaches to later:
#
#   PREFIX-client  PREFIX-tun-c  198.18.0.2/24  fd00:0:0:1::2/64
#   PREFIX-server  PREFIX-tun-s  198.18.1.2/24  fd00:0:0:2::2/64
#
# Each side only has a route to the other side's /24 and /64 through its
# TUN; nothing leads out of the lab.  Until portcullis attaches, packets sent
# into a TUN go nowhere.  No server is started; see scripts/lab.toml.
#
# Usage: scripts/topology-up.sh [PREFIX]    (default pc; at most 7 chars,
# as for `portcullis lab up --prefix`)
set -euo pipefail

prefix=${1:-pc}
if [[ $(id -u) -ne 0 ]]; then
    echo "topology-up: must run as root (creates network namespaces)" >&2
    exit 1
fi
if ((${#prefix} > 7)) || [[ ! $prefix =~ ^[A-Za-z0-9][A-Za-z0-9_]*$ ]]; then
    echo "topology-up: prefix must be 1-7 letters, digits or _" >&2
    exit 1
fi

# If anything below fails, leave nothing half-built behind.
trap 'rc=$?; if ((rc)); then "$(dirname "$0")/topology-down.sh" "$prefix"; fi' EXIT

# side NAME DEV OWN4 OWN6 PEER4 PEER6
side() {
    local ns=$1 dev=$2
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" ip tuntap add mode tun name "$dev"
    ip -n "$ns" addr add "$3" dev "$dev"
    # No duplicate address detection: the only other host is the far side.
    ip -n "$ns" addr add "$4" dev "$dev" nodad
    ip -n "$ns" link set "$dev" up
    ip -n "$ns" route add "$5" dev "$dev"
    ip -n "$ns" -6 route add "$6" dev "$dev"
}

side "$prefix-client" "$prefix-tun-c" 198.18.0.2/24 fd00:0:0:1::2/64 \
    198.18.1.0/24 fd00:0:0:2::/64
side "$prefix-server" "$prefix-tun-s" 198.18.1.2/24 fd00:0:0:2::2/64 \
    198.18.0.0/24 fd00:0:0:1::/64

echo "topology-up: $prefix-client ($prefix-tun-c) and $prefix-server ($prefix-tun-s) ready"
