#!/usr/bin/env bash
# CKDF and LCMR on Fashion-MNIST, one command per run (docs/results.md, CKDF and LCMR sections).
#
#   scripts/distil-fashion-mnist.sh short            # minutes: every variant once on 1000 images
#   scripts/distil-fashion-mnist.sh small            # every variant x 3 seeds on 5000 images
#   scripts/distil-fashion-mnist.sh small-long       # the same with twice the steps (same teacher)
#   scripts/distil-fashion-mnist.sh full             # every variant x 3 seeds on all 60000 (days here)
#   scripts/distil-fashion-mnist.sh small kd:1 ckdf-kd:1   # chosen runs only (variant:seed)
#
# Variants: student-alone, kd, crd-only, ckdf, ckdf-kd (CKDF runner, same schedule; the weights
# of KD, penultimate CRD and layer CRD switch the terms) and lcmr-log, lcmr-linear,
# lcmr-constant (LCMR runner, same number of steps as the CKDF runs; compare with kd).
# crd-only-warm, ckdf-warm, ckdf-kd-warm: the same with --bank-init embed (the memory banks start
# from one pass of the initial heads instead of noise; short runs spend a large share of their
# steps on noise positives otherwise).
# Teacher resnet20, student resnet8 (same stage shapes, so LCMR can swap stages). The teacher is
# trained once per scale (skipped when its file exists; runs that need it wait for it). Each run
# writes a model and a JSON report (history or trace, memory, provenance) to $OUT and a summary
# line to $OUT/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${1:-short}"
shift || true
OUT="${OUT:-data/distil-runs}" # data/ is git-ignored
mkdir -p "$OUT"
edgec() { node bin/edgec.js "$@"; }

case "$SCALE" in
  short)
    DATA=(-d fashion-mnist --limit-train 1000 --limit-test 500)
    TRAIN=1000
    TEACHER_EPOCHS=3; EPOCHS=1; K=512; MEM=1024; SEEDS=(0) ;;
  small)
    # 5000 training images, each seen 4 times by the students (312 steps of 64); all 10000 test
    # images. K=1024 negatives per anchor: a CKDF step took 3.5-7 s on one core here.
    DATA=(-d fashion-mnist --limit-train 5000)
    TRAIN=5000
    TEACHER_EPOCHS=6; EPOCHS=4; K=1024; MEM=2048; SEEDS=(0 1 2) ;;
  small-long)
    # small's teacher and data, students seeing the 5000 images 8 times (624 steps).
    DATA=(-d fashion-mnist --limit-train 5000)
    TRAIN=5000
    TEACHER_OF=small
    TEACHER_EPOCHS=6; EPOCHS=8; K=1024; MEM=2048; SEEDS=(0 1 2) ;;
  full)
    DATA=(-d fashion-mnist)
    TRAIN=60000
    TEACHER_EPOCHS=15; EPOCHS=15; K=4096; MEM=4096; SEEDS=(0 1 2) ;;
  *)
    echo "usage: $0 short|small|small-long|full [variant:seed ...]" >&2
    exit 2 ;;
esac
TEACHER="$OUT/${TEACHER_OF:-$SCALE}-teacher-resnet20.ecm"

# LCMR runs as many steps as a CKDF run: its replacing horizon plus a tenth of it to fine-tune.
TOTAL_STEPS=$((TRAIN / 64 * EPOCHS))
TR=$((TOTAL_STEPS * 10 / 11))

teacher() {
  # A second caller waits on the lock while the first trains.
  exec 9>"$TEACHER.lock"
  flock 9
  [[ -f "$TEACHER" ]] || edgec train -m resnet20 "${DATA[@]}" -e "$TEACHER_EPOCHS" -b 64 -o "$TEACHER"
  flock -u 9
}

ckdf() { # name seed [weights...]
  local name="$1" seed="$2"
  shift 2
  teacher
  edgec compress ckdf -t "$TEACHER" -s resnet8 "${DATA[@]}" --epochs "$EPOCHS" --nce-k "$K" \
    --memory-limit-mb "$MEM" --seed "$seed" -o "$OUT/$SCALE-$name-s$seed.ecm" \
    --report "$OUT/$SCALE-$name-s$seed.json" "$@" |
    sed "s/^/[$SCALE $name seed $seed] /" | tee -a "$OUT/summary.txt"
}
lcmr() { # name seed curriculum
  local name="$1" seed="$2" curriculum="$3"
  teacher
  edgec compress lcmr -t "$TEACHER" -s resnet8 "${DATA[@]}" --replace-steps "$TR" \
    --curriculum "$curriculum" --seed "$seed" -o "$OUT/$SCALE-$name-s$seed.ecm" \
    --report "$OUT/$SCALE-$name-s$seed.json" |
    sed "s/^/[$SCALE $name seed $seed] /" | tee -a "$OUT/summary.txt"
}

run() { # variant seed
  case "$1" in
    student-alone) ckdf "$1" "$2" --alpha 0 --beta 0 --theta 0 ;;
    kd) ckdf "$1" "$2" --alpha 1 --beta 0 --theta 0 ;;
    crd-only) ckdf "$1" "$2" --alpha 0 --beta 0.8 --theta 0 ;;
    ckdf) ckdf "$1" "$2" --alpha 0 --beta 0.8 --theta 0.1 ;;
    ckdf-kd) ckdf "$1" "$2" --alpha 1 --beta 0.8 --theta 0.1 ;;
    crd-only-warm) ckdf "$1" "$2" --alpha 0 --beta 0.8 --theta 0 --bank-init embed ;;
    ckdf-warm) ckdf "$1" "$2" --alpha 0 --beta 0.8 --theta 0.1 --bank-init embed ;;
    ckdf-kd-warm) ckdf "$1" "$2" --alpha 1 --beta 0.8 --theta 0.1 --bank-init embed ;;
    lcmr-log) lcmr "$1" "$2" log ;;
    lcmr-linear) lcmr "$1" "$2" linear ;;
    lcmr-constant) lcmr "$1" "$2" constant ;;
    *)
      echo "unknown variant: $1" >&2
      exit 2 ;;
  esac
}

if (($# > 0)); then
  for spec in "$@"; do run "${spec%%:*}" "${spec##*:}"; done
else
  for seed in "${SEEDS[@]}"; do
    for variant in student-alone kd crd-only ckdf ckdf-kd lcmr-log lcmr-linear lcmr-constant; do
      run "$variant" "$seed"
    done
  done
fi
