#!/usr/bin/env bash
# Builds the example filters as WebAssembly components and copies them to one folder.
#
#   filters/build.sh [OUT_DIR]      (default OUT_DIR: <repo>/target/filters)
#
# Writes standard.wasm, airline-partner.wasm and faulty.wasm. Uses Debian's Rust (packages
# rustc-web, cargo-web, rust-web-src, lld-22), not rustup's: rustup here has no wasm targets,
# so std is rebuilt for wasm32-unknown-unknown from Debian's sources (-Zbuild-std), and
# wasm-component-ld turns each module into a component. The cargo target directory,
# FLIGHTCAST_FILTER_TARGET_DIR (default ~/.cache/flightcast/filters-target), lies outside the
# repository so that later builds on the same machine reuse the compiled std.
set -euo pipefail

filters_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$filters_dir/.." && pwd)"
out_dir="${1:-$repo_dir/target/filters}"
target_dir="${FLIGHTCAST_FILTER_TARGET_DIR:-$HOME/.cache/flightcast/filters-target}"

debian_cargo=/usr/bin/cargo
debian_rustc=/usr/bin/rustc
llvm_bin=/usr/lib/llvm-22/bin
linker=/usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld
std_src=/usr/lib/rustlib/src/rust
target=wasm32-unknown-unknown

# Component name in OUT_DIR, then the crate that builds it.
filters=(
    "standard flightcast-filter-standard"
    "airline-partner flightcast-filter-airline-partner"
    "faulty flightcast-filter-faulty"
)
# Every component starts with the wasm magic and the component-model layer and version.
component_preamble="0061736d0d000100"

fail() {
    echo "filters/build.sh: $*" >&2
    exit 1
}

for path in "$debian_cargo" "$debian_rustc" "$linker" "$llvm_bin/wasm-ld"; do
    [[ -x "$path" ]] || fail "missing $path (apt-get install rustc-web cargo-web lld-22)"
done
[[ -d "$std_src/library" ]] || fail "missing $std_src/library (apt-get install rust-web-src)"

# rustup's cargo and rustc come first on PATH and obey toolchain overrides; Debian's cargo
# must compile with Debian's rustc, whose std sources are the ones installed above. Flags
# meant for native builds would break the wasm one.
unset RUSTUP_TOOLCHAIN RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
unset CARGO_BUILD_TARGET CARGO_BUILD_RUSTFLAGS CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
export PATH="$llvm_bin:/usr/bin:$PATH"
export RUSTC="$debian_rustc"
# -Zbuild-std is unstable; Debian's toolchain is a stable release.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$linker"

packages=()
for entry in "${filters[@]}"; do
    packages+=(--package "${entry#* }")
done

echo "building ${#filters[@]} filter components with $("$debian_rustc" --version)"
echo "target directory: $target_dir"
started=$SECONDS
"$debian_cargo" build \
    --manifest-path "$filters_dir/Cargo.toml" \
    --locked \
    --release \
    -Zbuild-std=std,panic_abort \
    --target "$target" \
    --target-dir "$target_dir" \
    "${packages[@]}"
echo "cargo finished in $((SECONDS - started)) s"

mkdir -p "$out_dir"
for entry in "${filters[@]}"; do
    name="${entry%% *}"
    crate="${entry#* }"
    built="$target_dir/$target/release/${crate//-/_}.wasm"
    dest="$out_dir/$name.wasm"
    [[ -f "$built" ]] || fail "cargo reported success but $built does not exist"

    preamble="$(od -An -tx1 -N8 "$built" | tr -d ' \n')"
    [[ "$preamble" == "$component_preamble" ]] ||
        fail "$built is not a component: it starts with $preamble, not $component_preamble"

    cp "$built" "$dest"
    printf '  %-20s %7d bytes  %s\n' "$name.wasm" "$(stat -c %s "$dest")" "$dest"
done
