#!/usr/bin/env bash
# Replays each fuzz target's committed corpus (corpus/<target>) under LLVM
# source-based coverage and prints line coverage per crate of this repository.
# Usage: fuzz/coverage.sh [TARGET...]   (default: every target)
#
# How: `cargo fuzz coverage` builds the target with -Cinstrument-coverage (plus
# libFuzzer's instrumentation, --sanitizer none like run-all.sh) and runs it
# once over every committed seed; the profiles of all targets are merged, and
# `llvm-cov export` over all target binaries at once gives each source file's
# lines (fuzz/coverage/lcov.info); this script sums them per crate. "Lines" are llvm-cov's: lines
# that hold at least one coverage region (code), in every function compiled
# into a target binary, run or not; a line counts as covered when the code on
# it ran at least once. Harness code (a crate's `fuzzing` module, fuzz/) is
# left out of the figures: it is not product code.
#
# Needs LLVM tools of rustc's own LLVM major version (the raw profile format
# changes between majors): rustup's llvm-tools component if present, else
# /usr/lib/llvm-<major>/bin. On Debian (bookworm-security has llvm-22) the
# script installs `llvm-<major>` when it runs as root and finds none, and
# cargo-fuzz (`cargo install cargo-fuzz --locked`) when it is missing.
# Outputs: coverage/<target>/ (profiles), coverage/all.profdata,
# coverage/lcov.info, and with COVERAGE_HTML=1 an HTML report in
# coverage/html/. Takes ~12 min cold on 2 cores (one build job), then ~2 min.
set -euo pipefail

cd "$(dirname "$0")"
fuzz_dir="$PWD"
repo="$(cd .. && pwd)"
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
flags=(--sanitizer none --release --debug-assertions)

major="$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')"
triple="$(rustc -vV | sed -n 's/^host: //p')"
llvm_bin="${LLVM_BIN:-}"
if [ -z "$llvm_bin" ]; then
    sysroot_bin="$(rustc --print sysroot)/lib/rustlib/$triple/bin"
    if [ -x "$sysroot_bin/llvm-profdata" ]; then
        llvm_bin="$sysroot_bin"
    else
        llvm_bin="/usr/lib/llvm-$major/bin"
    fi
fi
if [ ! -x "$llvm_bin/llvm-profdata" ] || [ ! -x "$llvm_bin/llvm-cov" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing llvm-$major (llvm-profdata, llvm-cov of rustc's LLVM)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "llvm-$major" >/dev/null
    fi
    if [ ! -x "$llvm_bin/llvm-profdata" ]; then
        echo "no llvm-profdata for LLVM $major in $llvm_bin: install llvm-$major" \
            "(Debian) or rustup's llvm-tools, or set LLVM_BIN" >&2
        exit 1
    fi
fi
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

objects=()
for target in "${targets[@]}"; do
    echo "== $target: $(find "corpus/$target" -type f | wc -l) seeds"
    rm -rf "coverage/$target"
    cargo fuzz coverage "${flags[@]}" --llvm-path "$llvm_bin" "$target" "corpus/$target" \
        >"coverage-$target.log" 2>&1 || {
        tail -n 30 "coverage-$target.log"
        echo "!! $target: coverage run failed (fuzz/coverage-$target.log)" >&2
        exit 1
    }
    rm -f "coverage-$target.log"
    objects+=(-object "target/$triple/coverage/$triple/release/$target")
done

"$llvm_bin/llvm-profdata" merge -sparse coverage/*/coverage.profdata -o coverage/all.profdata
ignore='(/\.cargo/registry/|^/rustc/|/lib/rustlib/|/fuzzing/|/fuzzing\.rs$|fuzz_targets/)'
report=(-instr-profile coverage/all.profdata -ignore-filename-regex "$ignore"
    "${objects[@]:1}")
"$llvm_bin/llvm-cov" export -format=lcov "${report[@]}" >coverage/lcov.info
if [ "${COVERAGE_HTML:-0}" = 1 ]; then
    "$llvm_bin/llvm-cov" show -format=html -output-dir coverage/html "${report[@]}"
fi

# lcov records: SF:<file>, then LF:<lines found> and LH:<lines hit>. Sum them
# per top-level directory of the repository (one crate each).
echo
echo "== line coverage, ${#targets[@]} targets' committed corpora" \
    "($(git -C "$repo" rev-parse --short HEAD), $(date -u +%F))"
awk -v repo="$repo/" '
    /^SF:/ {
        path = substr($0, 4)
        if (index(path, repo) == 1) path = substr(path, length(repo) + 1)
        crate = path
        sub("/.*", "", crate)
        files[crate]++
    }
    /^LF:/ { found[crate] += substr($0, 4) }
    /^LH:/ { hit[crate] += substr($0, 4) }
    END {
        printf "%-16s %6s %8s %8s %9s\n", "crate", "files", "lines", "covered", "coverage"
        for (crate in found) {
            printf "%-16s %6d %8d %8d %8.1f%%\n", crate, files[crate], found[crate],
                hit[crate], 100 * hit[crate] / found[crate] | "sort"
        }
    }' coverage/lcov.info
echo "(per file: fuzz/coverage/lcov.info; COVERAGE_HTML=1 for an HTML report)"
