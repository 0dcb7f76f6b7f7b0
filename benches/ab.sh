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
