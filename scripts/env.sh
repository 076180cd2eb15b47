# shellcheck shell=bash
# Sourced by scripts/setup, scripts/run and scripts/test (not executed).
# Sets REPO_ROOT and puts the project's tools first on PATH:
#   1. end2end/node_modules/.bin  (wasm-opt from npm's binaryen; Debian's
#      binaryen 108 produces a wasm that never hydrates)
#   2. ~/.cargo/bin               (cargo-leptos, wasm-bindgen, rustup's cargo)
# Safe to source repeatedly: each entry is moved to the front, never duplicated.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_virtdeck_path_prepend() {
    local dir=$1 p=":${PATH}:"
    while [[ $p == *":${dir}:"* ]]; do p=${p//":${dir}:"/:}; done
    p=${p#:}
    p=${p%:}
    PATH="${dir}${p:+:${p}}"
}
_virtdeck_path_prepend "${CARGO_HOME:-$HOME/.cargo}/bin"
_virtdeck_path_prepend "${REPO_ROOT}/end2end/node_modules/.bin"
unset -f _virtdeck_path_prepend
export PATH
