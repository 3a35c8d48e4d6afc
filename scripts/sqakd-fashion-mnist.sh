#!/usr/bin/env bash
# SQAKD on Fashion-MNIST, one command per run (docs/results.md, SQAKD section).
#
#   scripts/sqakd-fashion-mnist.sh <arch> <run>
#     arch: vgg     VGG-8 at quarter width (the AAP section's unpruned VGG-8/4, trained here if missing)
#           vgg-half  VGG-8 at half width (four times the VGG-8/4's parameters, trained here if missing)
#           resnet  ResNet-8 (the AAP section's unpruned ResNet-8)
#     run:  w2a2 | w4a4 | w8a8   SQAKD: T^2 KL(teacher || student), training labels dropped
#           w2a2-ce              the same quantizer trained on labels with cross-entropy only
#           w2a2-cekd            labels: cross-entropy + KD
#
# Every run: learned-interval quantizers, EPOCHS x STEPS x 128 images (default 6 x 170: 1.7
# passes over the 60 000 training images; e.g. EPOCHS=12 STEPS=200 TAG=long for 5.1 passes),
# evaluated on the whole 10 000-image test set after each epoch, exported to ONNX (int8 QDQ,
# int4 QDQ or bit-packed) and checked under ORT. TAG is appended to the output names;
# PAD_CROP=2 trains on randomly shifted images, as the teachers were trained (default 0);
# TEMPERATURE sets the distillation temperature (default 4, as specified; other values are a
# deviation to report as such; not TEMP, which names the temp directory to Node);
# PER_CHANNEL=1 gives every output channel its own weight quantizer.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH="${1:?usage: $0 vgg|vgg-half|resnet w2a2|w4a4|w8a8|w2a2-ce|w2a2-cekd}"
RUN="${2:?usage: $0 vgg|vgg-half|resnet w2a2|w4a4|w8a8|w2a2-ce|w2a2-cekd}"
OUT="${OUT:-data/sqakd-runs}" # data/ is git-ignored
mkdir -p "$OUT"
edgec() { node bin/edgec.js "$@"; }

case "$ARCH" in
  vgg)
    TEACHER="$OUT/vgg8q.ecm"
    [[ -f "$TEACHER" ]] || edgec train -m vgg8 -d fashion-mnist -e 4 -b 64 --lr 0.05 --pad-crop 2 --width 0.25 -o "$TEACHER"
    ;;
  vgg-half)
    TEACHER="$OUT/vgg8h.ecm"
    [[ -f "$TEACHER" ]] || edgec train -m vgg8 -d fashion-mnist -e 4 -b 64 --lr 0.05 --pad-crop 2 --width 0.5 -o "$TEACHER"
    ;;
  resnet)
    TEACHER="$OUT/resnet8.ecm"
    [[ -f "$TEACHER" ]] || edgec train -m resnet8 -d fashion-mnist -e 8 -b 64 --lr 0.05 --pad-crop 2 --workers 2 -o "$TEACHER"
    ;;
  *) echo "unknown arch $ARCH" >&2; exit 2 ;;
esac

case "$RUN" in
  w2a2 | w4a4 | w8a8) BITS="$RUN"; LOSS=(--loss kd --unlabeled) ;;
  w2a2-ce) BITS=w2a2; LOSS=(--loss ce) ;;
  w2a2-cekd) BITS=w2a2; LOSS=(--loss ce+kd) ;;
  *) echo "unknown run $RUN" >&2; exit 2 ;;
esac

NAME="$OUT/$ARCH-$RUN${TAG:+-$TAG}"
edgec compress sqakd -m "$TEACHER" -d fashion-mnist --bits "$BITS" --quantizer learned-interval "${LOSS[@]}" \
  --epochs "${EPOCHS:-6}" --steps-per-epoch "${STEPS:-170}" -b 128 --pad-crop "${PAD_CROP:-0}" \
  --temperature "${TEMPERATURE:-4}" ${PER_CHANNEL:+--per-channel} \
  -o "$NAME.ecm" --onnx "$NAME.onnx" --report "$NAME.json"
