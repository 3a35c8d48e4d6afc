#!/usr/bin/env bash
# AAP on Fashion-MNIST, one command per run (docs/results.md, AAP section).
#
#   scripts/aap-fashion-mnist.sh short      # minutes: proves the pipeline end to end
#   scripts/aap-fashion-mnist.sh resnet     # ResNet-8, accuracy objective, drop <= 0.3 pt: 35 min of search + the baselines
#   scripts/aap-fashion-mnist.sh vgg        # VGG-8 at quarter width, accuracy objective, drop <= 0.3 pt: 30 min of search + the baselines
#   scripts/aap-fashion-mnist.sh latency    # ResNet-8 (ARCH=vgg: VGG-8/4), p50 target on this machine (ORT, one thread), drop <= 0.3 pt
#
# Each run trains the unpruned model first (skipped when its file exists), then runs AAP with
# the L1-norm and one-shot attention baselines at the same parameter and training budget, and
# writes the model, the ONNX export and a JSON report (trajectory + provenance) to $OUT.
#
# The search budget of the resnet, vgg and latency modes can be changed without editing:
# MINUTES (wall clock of the search), STEPS (fine-tuning steps of 128 images a round),
# VALIDATION (held-out training images that judge each round, default 5000), MULTIPLE
# (--channel-multiple, default 1), MAX_CUT (--max-group-cut: the largest share of a layer
# group one round may remove, default 1), LAMBDA (first threshold step, default the median
# group score), WEIGHTING (--weighting: params, flops or latency; default by objective), WORKERS
# (--workers: data-parallel fine-tuning threads, default 1; give 2 a 2-core machine alone), TAG
# (appended to the output names) and BASELINES=0 (the resnet and vgg modes skip the L1-norm and
# one-shot baselines, which fine-tune as long as the delivered model's lineage did).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-short}"
OUT="${OUT:-data/aap-runs}"  # data/ is git-ignored
mkdir -p "$OUT"
edgec() { node bin/edgec.js "$@"; }
SEARCH=(--steps "${STEPS:-60}" -b 128 --validation "${VALIDATION:-5000}" --channel-multiple "${MULTIPLE:-1}"
  --max-group-cut "${MAX_CUT:-1}" --workers "${WORKERS:-1}" ${LAMBDA:+--lambda "$LAMBDA"} ${WEIGHTING:+--weighting "$WEIGHTING"})
T="${TAG:+-$TAG}"
BASELINE_FLAG=(--baselines)
[[ "${BASELINES:-1}" == 0 ]] && BASELINE_FLAG=()

train_once() { # arch file epochs [extra train flags]
  local arch="$1" file="$2" epochs="$3"
  shift 3
  if [[ ! -f "$file" ]]; then
    edgec train -m "$arch" -d fashion-mnist -e "$epochs" -b 128 --lr 0.05 -o "$file" "$@"
  fi
}

case "$MODE" in
  short)
    # small enough for a shared 2-core machine: a small CNN on 3000 training images
    train_once small-cnn "$OUT/short-small-cnn.ecm" 2 --limit-train 3000 --limit-test 1000 -b 64
    edgec compress aap -m "$OUT/short-small-cnn.ecm" -d fashion-mnist --limit-train 3000 --limit-test 1000 \
      --objective accuracy --max-drop 0.3 --rounds 6 --steps 20 -b 64 --validation 500 \
      --calibration-batches 2 --baselines --report "$OUT/short-small-cnn.json" --onnx "$OUT/short-small-cnn-aap.onnx"
    ;;
  resnet)
    # the unpruned model: docs/benchmarks.md's ResNet-8 recipe (8-epoch cosine, pad-crop 2)
    train_once resnet8 "$OUT/resnet8.ecm" 8 -b 64 --pad-crop 2 --workers 2
    edgec compress aap -m "$OUT/resnet8.ecm" -d fashion-mnist --objective accuracy --max-drop 0.3 \
      --time-budget "${MINUTES:-35}" "${SEARCH[@]}" "${BASELINE_FLAG[@]}" \
      --report "$OUT/resnet8-aap$T.json" -o "$OUT/resnet8-aap$T.ecm" --onnx "$OUT/resnet8-aap$T.onnx"
    ;;
  vgg)
    train_once vgg8 "$OUT/vgg8q.ecm" 4 -b 64 --pad-crop 2 --width 0.25
    edgec compress aap -m "$OUT/vgg8q.ecm" -d fashion-mnist --objective accuracy --max-drop 0.3 \
      --time-budget "${MINUTES:-30}" "${SEARCH[@]}" "${BASELINE_FLAG[@]}" \
      --report "$OUT/vgg8q-aap$T.json" -o "$OUT/vgg8q-aap$T.ecm" --onnx "$OUT/vgg8q-aap$T.onnx"
    ;;
  latency)
    # target: TARGET_MS, the p50 of LATENCY_RUNS (default 30) timed onnxruntime-node runs on this
    # machine, one thread, LATENCY_BATCH images each (default 1); ARCH=vgg prunes the VGG-8/4
    if [[ "${ARCH:-resnet}" == vgg ]]; then
      train_once vgg8 "$OUT/vgg8q.ecm" 4 -b 64 --pad-crop 2 --width 0.25
      NAME=vgg8q
    else
      train_once resnet8 "$OUT/resnet8.ecm" 8 -b 64 --pad-crop 2 --workers 2
      NAME=resnet8
    fi
    edgec compress aap -m "$OUT/$NAME.ecm" -d fashion-mnist --objective "latency=${TARGET_MS:-0.3}ms@local" \
      --latency-batch "${LATENCY_BATCH:-1}" --latency-runs "${LATENCY_RUNS:-30}" \
      --max-drop 0.3 --time-budget "${MINUTES:-15}" "${SEARCH[@]}" \
      --report "$OUT/$NAME-latency$T.json" -o "$OUT/$NAME-latency$T.ecm" --onnx "$OUT/$NAME-latency$T.onnx"
    ;;
  *)
    echo "usage: $0 short|resnet|vgg|latency" >&2
    exit 2
    ;;
esac
