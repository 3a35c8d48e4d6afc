#!/usr/bin/env bash
# CKDF and LCMR on Fashion-MNIST, one command per run (docs/results.md, CKDF and LCMR sections).
#
#   scripts/distil-fashion-mnist.sh short   # minutes: every variant once on 1000 images (pipeline proof)
#   scripts/distil-fashion-mnist.sh ckdf    # hours: student alone, KD, CRD-only, CKDF, CKDF+KD x 3 seeds
#   scripts/distil-fashion-mnist.sh lcmr    # hours: LCMR log / linear / constant and plain KD x 3 seeds
#
# Teacher resnet20, student resnet8 (same stage shapes, so LCMR can swap stages). The teacher is
# trained once (skipped when its file exists). Each variant writes a model and a JSON report
# (history or trace, memory, provenance) to $OUT; a summary line per run goes to $OUT/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-short}"
OUT="${OUT:-data/distil-runs}" # data/ is git-ignored
mkdir -p "$OUT"
edgec() { node bin/edgec.js "$@"; }

case "$MODE" in
  short)
    DATA=(-d fashion-mnist --limit-train 1000 --limit-test 500)
    TEACHER_EPOCHS=3; EPOCHS=1; K=512; MEM=1024; TR=30; SEEDS=(0) ;;
  ckdf | lcmr)
    DATA=(-d fashion-mnist)
    TEACHER_EPOCHS=15; EPOCHS=15; K=4096; MEM=2048; TR=12000; SEEDS=(0 1 2) ;;
  *)
    echo "usage: $0 short|ckdf|lcmr" >&2
    exit 2 ;;
esac
TEACHER="$OUT/$MODE-teacher-resnet20.ecm"
[[ -f "$TEACHER" ]] || edgec train -m resnet20 "${DATA[@]}" -e "$TEACHER_EPOCHS" -b 64 -o "$TEACHER"

ckdf() { # name seed [weights...]
  local name="$1" seed="$2"
  shift 2
  edgec compress ckdf -t "$TEACHER" -s resnet8 "${DATA[@]}" --epochs "$EPOCHS" --nce-k "$K" \
    --memory-limit-mb "$MEM" --seed "$seed" -o "$OUT/$MODE-$name-s$seed.ecm" \
    --report "$OUT/$MODE-$name-s$seed.json" "$@" |
    sed "s/^/[$name seed $seed] /" | tee -a "$OUT/summary.txt"
}
lcmr() { # name seed curriculum
  local name="$1" seed="$2" curriculum="$3"
  edgec compress lcmr -t "$TEACHER" -s resnet8 "${DATA[@]}" --replace-steps "$TR" \
    --curriculum "$curriculum" --seed "$seed" -o "$OUT/$MODE-$name-s$seed.ecm" \
    --report "$OUT/$MODE-$name-s$seed.json" |
    sed "s/^/[$name seed $seed] /" | tee -a "$OUT/summary.txt"
}

for seed in "${SEEDS[@]}"; do
  if [[ "$MODE" != lcmr ]]; then
    ckdf student-alone "$seed" --alpha 0 --beta 0 --theta 0
    ckdf kd "$seed" --alpha 1 --beta 0 --theta 0
    ckdf crd-only "$seed" --alpha 0 --beta 0.8 --theta 0
    ckdf ckdf "$seed" --alpha 0 --beta 0.8 --theta 0.1
    ckdf ckdf-kd "$seed" --alpha 1 --beta 0.8 --theta 0.1
  fi
  if [[ "$MODE" != ckdf ]]; then
    lcmr lcmr-log "$seed" log
    lcmr lcmr-linear "$seed" linear
    lcmr lcmr-constant "$seed" constant
    if [[ "$MODE" == lcmr ]]; then ckdf kd "$seed" --alpha 1 --beta 0 --theta 0; fi
  fi
done
