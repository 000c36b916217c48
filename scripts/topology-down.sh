#!/usr/bin/env bash
# Remove what scripts/topology-up.sh made: the two namespaces, the processes
# still running inside them, and with them their TUN devices.
#
# Safe to run more than once and on a half-built topology.
#
# Usage: scripts/topology-down.sh [PREFIX]    (default pc)
set -uo pipefail

prefix=${1:-pc}
if [[ $(id -u) -ne 0 ]]; then
    echo "topology-down: must run as root" >&2
    exit 1
fi

for ns in "$prefix-client" "$prefix-server"; do
    [[ -e /run/netns/$ns ]] || continue
    # A process left inside would keep the namespace (and the TUN) alive.
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [[ -n $pids ]]; then
        # shellcheck disable=SC2086 # one pid per word
        kill $pids 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break
            sleep 0.2
        done
        pids=$(ip netns pids "$ns" 2>/dev/null)
        # shellcheck disable=SC2086
        [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
    fi
    ip netns del "$ns"
done
exit 0
