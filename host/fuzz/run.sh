#!/usr/bin/env bash
# Builds every fuzz target and runs each for a bounded number of inputs; exits non-zero when
# a target crashes (libFuzzer then leaves the input in artifacts/<target>/).
#
#   host/fuzz/run.sh [RUNS]
#
# RUNS is the number of inputs per target (default 20000); FUZZ_SECONDS caps each target's
# time (default 60). Needs a nightly toolchain; installs cargo-fuzz from crates.io if it is
# missing. Builds go to FUZZ_TARGET_DIR (default host/fuzz/target): nightly artifacts cannot
# be shared with the stable build anyway. The first build compiles every dependency of
# flightcast with nightly and takes many minutes on two cores; later ones take seconds.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
runs="${1:-20000}"
seconds="${FUZZ_SECONDS:-60}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$here/target}"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "run.sh: needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd "$here/.."
cargo +nightly fuzz build --sanitizer none --debug-assertions

for target in stomp_decoder json_request; do
    dict="$here/${target%%_*}.dict" # stomp.dict, json.dict
    mkdir -p "$here/corpus/$target"
    echo "==> $target: $runs inputs, at most ${seconds}s"
    cargo +nightly fuzz run --sanitizer none --debug-assertions "$target" \
        "$here/corpus/$target" "$here/seeds/$target" -- \
        -runs="$runs" -max_total_time="$seconds" -dict="$dict" -print_final_stats=1
done
echo "==> no crash"
