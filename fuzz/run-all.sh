#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30), one after another, one
# job each. Usage: fuzz/run-all.sh [SECONDS] [TARGET...]
#
# Stable toolchain: cargo-fuzz needs nightly flags, so RUSTC_BOOTSTRAP=1 is set.
# Targets are built once (release, debug assertions, no sanitizer: the code
# under test forbids `unsafe`, and without ASan each target runs ~2x faster).
# New corpus entries go to target/corpus-work/<target>; the committed seeds in
# corpus/<target> are only read. A crash stops the script with a non-zero
# status; the input lands in artifacts/<target>/.
set -euo pipefail

seconds="${1:-30}"
shift || true
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
flags=(--sanitizer none --release --debug-assertions)

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build "${flags[@]}"
triple="$(rustc -vV | sed -n 's/^host: //p')"

summary=()
for target in "${targets[@]}"; do
    work="target/corpus-work/$target"
    mkdir -p "$work" "corpus/$target" "artifacts/$target"
    log="target/fuzz-$target.log"
    echo "== $target: ${seconds}s"
    # The binary cargo-fuzz built, run directly: no rebuild check per target.
    if ! "target/$triple/release/$target" -artifact_prefix="artifacts/$target/" \
        -max_total_time="$seconds" -print_final_stats=1 \
        -max_len=4096 -timeout=10 -rss_limit_mb=2048 "$work" "corpus/$target" >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "!! $target failed: see fuzz/$log and fuzz/artifacts/$target/"
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
    summary+=("$(printf '%-26s %12s execs %8s/s  cov %s' "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}")")
done

echo
echo "== ${#targets[@]} targets, ${seconds}s each, 0 crashes"
printf '%s\n' "${summary[@]}"
