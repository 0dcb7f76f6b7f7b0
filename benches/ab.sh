#!/bin/bash
# Interleaved A/B timing of two builds of the simulator bench (BENCHMARKS.md, "Fourth pass").
#
#   cargo bench --bench simulator --no-run        # note the binary, copy it to /tmp/a; change,
#   cp target/release/deps/simulator-<hash> /tmp/a  # rebuild, copy to /tmp/b, then:
#   bash benches/ab.sh /tmp/a /tmp/b [ROUNDS]
#
# Runs `RATELAB_BENCH=ratio RATELAB_BENCH_REPEAT=3 <binary> --bench` for A, then B, ROUNDS times
# (default 6), and prints each one's ratelab wall times (the median of each run's 3) with their
# minimum and median. On a shared machine single runs jump by up to 50 %: compare minimums, and
# medians only when the rounds agree.
#
# Build A and B with one codegen unit (BENCHMARKS.md, "Sixth pass"): with the default 16, an
# unrelated change (even an unused function) can move ratelab by 5 % through what gets inlined
# where. For example:
#   CARGO_TARGET_DIR=/tmp/ab-target CARGO_PROFILE_BENCH_CODEGEN_UNITS=1 \
#     cargo bench --bench simulator --no-run
# And repeat an A/B at another time before believing a difference of a few percent: some builds
# run slower for minutes at a time on a shared host while others do not.
set -eu
a=$1 b=$2 rounds=${3:-6}
declare -A times
for _ in $(seq "$rounds"); do
  for x in a b; do
    bin=${!x}
    t=$(RATELAB_BENCH=ratio RATELAB_BENCH_REPEAT=3 "$bin" --bench 2>/dev/null |
      awk '/^ratelab /{sub("ms", "", $8); print $8}')
    times[$x]="${times[$x]:-} $t"
  done
done
for x in a b; do
  sorted=$(tr ' ' '\n' <<<"${times[$x]}" | grep . | sort -n)
  n=$(wc -l <<<"$sorted")
  echo "$x (${!x}): min $(head -1 <<<"$sorted") ms, median $(sed -n "$(((n + 1) / 2))p" <<<"$sorted") ms; all:" $sorted
done
