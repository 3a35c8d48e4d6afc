#!/usr/bin/env bash
# AAP on Fashion-MNIST, one command per run (docs/results.md, AAP section).
#
#   scripts/aap-fashion-mnist.sh short      # minutes: proves the pipeline end to end
#   scripts/aap-fashion-mnist.sh resnet     # an hour of AAP (after training the unpruned model once): ResNet-20, accuracy objective, drop <= 0.3 pt
#   scripts/aap-fashion-mnist.sh vgg        # an hour of AAP (after training the unpruned model once): VGG-8, accuracy objective, drop <= 0.3 pt
#   scripts/aap-fashion-mnist.sh latency    # an hour of AAP (after training the unpruned model once): ResNet-20, p50 target on this machine
#
# Each run trains the unpruned model first (skipped when its file exists), then runs AAP with
# the L1-norm and one-shot attention baselines at the same parameter and training budget, and
# writes the model, the ONNX export and a JSON report (trajectory + provenance) to $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-short}"
OUT="${OUT:-data/aap-runs}"  # data/ is git-ignored
mkdir -p "$OUT"
edgec() { node bin/edgec.js "$@"; }

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
    train_once resnet20 "$OUT/resnet20.ecm" 15
    edgec compress aap -m "$OUT/resnet20.ecm" -d fashion-mnist --objective accuracy --max-drop 0.3 \
      --time-budget 60 --epochs 1 --baselines \
      --report "$OUT/resnet20-aap.json" -o "$OUT/resnet20-aap.ecm" --onnx "$OUT/resnet20-aap.onnx"
    ;;
  vgg)
    train_once vgg8 "$OUT/vgg8.ecm" 15
    edgec compress aap -m "$OUT/vgg8.ecm" -d fashion-mnist --objective accuracy --max-drop 0.3 \
      --time-budget 60 --epochs 1 --baselines \
      --report "$OUT/vgg8-aap.json" -o "$OUT/vgg8-aap.ecm" --onnx "$OUT/vgg8-aap.onnx"
    ;;
  latency)
    train_once resnet20 "$OUT/resnet20.ecm" 15
    # target: half the unpruned p50 on this machine, measured with onnxruntime-node (batch 1, 1 thread)
    edgec compress aap -m "$OUT/resnet20.ecm" -d fashion-mnist --objective "latency=${TARGET_MS:-0.25}ms@local" \
      --max-drop 0.3 --time-budget 60 --epochs 1 \
      --report "$OUT/resnet20-latency.json" --onnx "$OUT/resnet20-latency.onnx"
    ;;
  *)
    echo "usage: $0 short|resnet|vgg|latency" >&2
    exit 2
    ;;
esac
