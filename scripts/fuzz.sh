#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 30), from the committed seed
# corpus (fuzz/seeds/) and a working corpus under fuzz/corpus/ (not committed). Fails on the
# first crash, which libFuzzer writes to fuzz/artifacts/TARGET/ (turn it into a regression test
# in `cargo test`). Uses the nightly toolchain when there is one, else RUSTC_BOOTSTRAP=1 on
# stable; installs cargo-fuzz when it is missing.
#   bash scripts/fuzz.sh            # 30 s per target (what .ci/run does)
#   bash scripts/fuzz.sh 3600       # a long run: an hour per target
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-30}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
"${fuzz[@]}" build -O
for target in scenario engine serve_headers; do
  mkdir -p "corpus/$target"
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  start=$(date +%s)
  out=$(mktemp)
  if ! "${fuzz[@]}" run -O "$target" "corpus/$target" "${seeds[@]}" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$out" 2>&1; then
    tail -40 "$out"
    echo "fuzz: $target crashed or hung; the input is in fuzz/artifacts/$target/"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out")
  echo "fuzz: $target: ${runs:-?} inputs in $(( $(date +%s) - start )) s, no crash"
  rm -f "$out"
done
