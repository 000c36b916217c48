#!/usr/bin/env bash
# Build portcullis and start the lab: two namespaces joined through the IPS.
#
# Installs missing packages, builds the release binary and runs
# `portcullis lab up` with the arguments given (see README.md), in the
# foreground until Ctrl-C, which tears the lab down again.
#
# Usage (as root): scripts/lab.sh [--mode ids|ips] [--prefix pc] [...]
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
    echo "lab.sh: must run as root: the lab creates network namespaces and" \
        "TUN devices (try: sudo scripts/lab.sh)" >&2
    exit 1
fi

scripts/deps.sh
if ! command -v cargo >/dev/null 2>&1 && [[ -r $HOME/.cargo/env ]]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi
cargo build --release
exec target/release/portcullis lab up "$@"
