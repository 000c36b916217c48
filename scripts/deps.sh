#!/usr/bin/env bash
# Install what building and testing portcullis needs, if it is missing.
#
# Idempotent: apt is only touched when a package is absent, and the index is
# only refreshed in that case.  The Rust toolchain itself (rustup, cargo) is
# expected to be present; rustfmt and clippy are added to it when missing.
#
# Usage: scripts/deps.sh        (as root when packages are missing)
set -euo pipefail

# Packages the lab and the namespace tests call:
#   iproute2 (ip netns, ip tuntap), curl, netcat-openbsd (nc), iperf3 (bench),
#   tcpdump (debugging), iputils-ping (ICMP demo rules), jq (EVE checks),
#   python3 + python3-yaml (test helpers, conformance runner),
#   python3-scapy (hand-made packets), nftables (nft: dropping the client
#   kernel's RSTs to hand-made connections), gcc/libc6-dev (linking Rust code).
PACKAGES=(
    iproute2 curl netcat-openbsd iperf3 tcpdump iputils-ping jq
    python3 python3-yaml python3-scapy nftables gcc libc6-dev ca-certificates
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "deps: missing packages: ${missing[*]}" >&2
        echo "deps: run as root to install them (apt-get)" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Cargo usually lives in ~/.cargo/bin, which sudo and CI shells may not
# have on PATH.
if ! command -v cargo >/dev/null 2>&1 && [[ -r $HOME/.cargo/env ]]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "deps: cargo not found; install a Rust toolchain (https://rustup.rs)" >&2
    exit 1
fi

# fmt and clippy are part of the test suite.
if command -v rustup >/dev/null 2>&1; then
    for comp in rustfmt clippy; do
        if ! rustup component list --installed 2>/dev/null | grep -q "^$comp"; then
            rustup component add "$comp"
        fi
    done
fi
