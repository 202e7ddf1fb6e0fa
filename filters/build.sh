#!/usr/bin/env bash
# Builds the example filters as WebAssembly components and copies them to one folder.
#
#   filters/build.sh [OUT_DIR]      (default OUT_DIR: <repo>/target/filters)
#
# Writes the example filters (standard.wasm, airline-partner.wasm, faulty.wasm) and the test
# components of README.md. Uses Debian's Rust (packages rustc-web, cargo-web, rust-web-src,
# lld-22, and wasi-libc for wasi-stdio.wasm), not rustup's: rustup here has no wasm targets,
# so std is rebuilt for the targets from Debian's sources (-Zbuild-std), and
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
# The target of components that import WASI like an ordinary tenant's build, and where
# Debian's wasi-libc (package wasi-libc) lies.
wasi_target=wasm32-wasip1
wasi_libc=/usr/lib/wasm32-wasi

# Component name in OUT_DIR, then the crate that builds it.
filters=(
    "standard flightcast-filter-standard"
    "airline-partner flightcast-filter-airline-partner"
    "faulty flightcast-filter-faulty"
    # Test components, never deployed (README.md).
    "hostile-loop flightcast-filter-hostile-loop"
    "hostile-bomb flightcast-filter-hostile-bomb"
    "hostile-trap flightcast-filter-hostile-trap"
    "hostile-oversized flightcast-filter-hostile-oversized"
    "hostile-slow flightcast-filter-hostile-slow"
    "limits-probe flightcast-filter-limits-probe"
    "swap-a flightcast-filter-swap-a"
    "swap-b flightcast-filter-swap-b"
    "wrong-world flightcast-filter-wrong-world"
    "forbidden-import flightcast-filter-forbidden-import"
)
# The same for $wasi_target: wasm-component-ld applies the WASI preview-1 reactor adapter it
# ships, so these components import wasi:* preview-2 interfaces.
wasi_filters=(
    "wasi-stdio flightcast-filter-wasi-stdio"
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
[[ -f "$wasi_libc/libc.a" ]] || fail "missing $wasi_libc/libc.a (apt-get install wasi-libc)"

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
# wasm32-wasip1 links against Debian's wasi-libc, which rustc does not know the place of.
# Rust's own wasip1 std links a core module; wasm-component-ld makes it a component.
export CARGO_TARGET_WASM32_WASIP1_LINKER="$linker"
export CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-L $wasi_libc -C link-self-contained=no"

# Builds the crates of the list named $2 for target $1.
build() {
    local build_target=$1 entry packages=()
    local -n entries=$2
    for entry in "${entries[@]}"; do
        packages+=(--package "${entry#* }")
    done
    echo "building ${#entries[@]} filter components for $build_target with $("$debian_rustc" --version)"
    echo "target directory: $target_dir"
    local started=$SECONDS
    "$debian_cargo" build \
        --manifest-path "$filters_dir/Cargo.toml" \
        --locked \
        --release \
        -Zbuild-std=std,panic_abort \
        --target "$build_target" \
        --target-dir "$target_dir" \
        "${packages[@]}"
    echo "cargo finished in $((SECONDS - started)) s"
}
build "$target" filters
build "$wasi_target" wasi_filters

mkdir -p "$out_dir"
for entry in "${filters[@]/#/$target }" "${wasi_filters[@]/#/$wasi_target }"; do
    built_target="${entry%% *}"
    entry="${entry#* }"
    name="${entry%% *}"
    crate="${entry#* }"
    built="$target_dir/$built_target/release/${crate//-/_}.wasm"
    dest="$out_dir/$name.wasm"
    [[ -f "$built" ]] || fail "cargo reported success but $built does not exist"

    preamble="$(od -An -tx1 -N8 "$built" | tr -d ' \n')"
    [[ "$preamble" == "$component_preamble" ]] ||
        fail "$built is not a component: it starts with $preamble, not $component_preamble"

    cp "$built" "$dest"
    printf '  %-20s %7d bytes  %s\n' "$name.wasm" "$(stat -c %s "$dest")" "$dest"
done
