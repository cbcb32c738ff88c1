#!/usr/bin/env bash
# benchmarks/gpu_e2e.sh: the end-to-end benchmark (benchmarks/e2e.py) on one CUDA GPU.
#
# What it runs, from the repository root, writing one JSON document per run into OUT_DIR:
#   e2e-cuda-int8_float16.json  every path (model-card loop, batched transformers, raw CTranslate2,
#                               `summarize run --backend torch`, `--backend ct2`) and the
#                               multilingual stream, CTranslate2 at --compute-type int8_float16;
#   e2e-cuda-float16.json       the two CTranslate2 paths again at --compute-type float16.
# The torch paths run in bfloat16: `summarize` has no dtype option and picks bf16 itself on a GPU
# that supports it (float16 on older GPUs, float32 for T5 models there), and the baselines follow.
# The benchmark's model is T5-sized, and T5 overflows in float16, so `summarize` runs it with
# bfloat16 activations instead (int8_float16 -> int8_bfloat16, float16 -> bfloat16; it logs a
# warning) and the raw CTranslate2 baseline is given the same type; the JSON records the type each
# path really used (paths.*.runs[].engine, model.raw_ct2_compute_type). The stream's Marian models
# take float16 as asked.
#
# Usage:
#   bash benchmarks/gpu_e2e.sh [OUT_DIR]       on the GPU machine (OUT_DIR: default $OUT, else out/gpu-e2e)
#   bash benchmarks/gpu_e2e.sh wheels          here, before: fetch into .whl/ the packages the GPU
#                                              image lacks (Python 3.12, x86-64)
# Environment: PYTHON (default python3), E2E_ARGS (extra e2e.py options, e.g. "--repeats 3"),
# SUMMARIZE_CACHE (where models are built and converted; default /tmp/summarize-cache).
#
# The GPU image this project is lent has torch, transformers, sentencepiece, pyarrow, typer and
# tqdm, but not polars, ctranslate2, langdetect, sentencex or selectolax. Their wheels come to
# 97 MB, over the 64 MiB that travels to the machine, so `wheels` unpacks them into one
# site-packages tree and packs it as .whl/site.tar.xz (about 59 MiB; xz takes minutes on 2 cores).
# Add `/.whl/` to .git/info/exclude and carry `.whl`; this script unpacks it (or installs any
# .whl/*.whl) into /tmp/site before it starts. CTranslate2's PyPI wheels are built for CUDA 12:
# on an image with only CUDA 13 libraries its GPU paths may fail to load, and e2e.py then records
# the error for those paths and still times the torch ones.
# Budget: about 5 minutes on an H200 (models built on the CPU first, about 30 s).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [[ "${1:-}" == "wheels" ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$tmp" \
        "polars==2.1.0" "polars-runtime-32==2.1.0" "ctranslate2==4.8.5" "sentencex==1.0.32" "selectolax==1.0.2"
    # langdetect publishes only a source archive; it is pure Python, so build its wheel here.
    "$PYTHON" -m pip wheel -q --no-deps -w "$tmp" "langdetect==1.0.9"
    # A wheel is a zip of its site-packages files: unpacked and packed with xz they fit the limit.
    mkdir -p "$tmp/site" .whl
    for whl in "$tmp"/*.whl; do
        "$PYTHON" -m zipfile -e "$whl" "$tmp/site"
    done
    tar -C "$tmp/site" -cf - . | xz -6 -T0 > .whl/site.tar.xz
    ls -la .whl
    exit 0
fi

OUT_DIR=${1:-${OUT:-out/gpu-e2e}}
mkdir -p "$OUT_DIR"
if [[ -f .whl/site.tar.xz ]]; then
    mkdir -p /tmp/site && tar -C /tmp/site -xJf .whl/site.tar.xz
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
elif compgen -G ".whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export SUMMARIZE_CACHE=${SUMMARIZE_CACHE:-/tmp/summarize-cache} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
"$PYTHON" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"; print(torch.cuda.get_device_name(0))'
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT_DIR/gpu.csv" 2>/dev/null || true

# shellcheck disable=SC2086  # E2E_ARGS is a list of options
"$PYTHON" benchmarks/e2e.py --device cuda --compute-type int8_float16 ${E2E_ARGS:-} \
    --json "$OUT_DIR/e2e-cuda-int8_float16.json" > /dev/null 2> "$OUT_DIR/e2e-cuda-int8_float16.log"
# shellcheck disable=SC2086
"$PYTHON" benchmarks/e2e.py --device cuda --compute-type float16 --paths raw-ct2,ct2 --stream-articles 0 ${E2E_ARGS:-} \
    --json "$OUT_DIR/e2e-cuda-float16.json" > /dev/null 2> "$OUT_DIR/e2e-cuda-float16.log"
echo "wrote $OUT_DIR/e2e-cuda-int8_float16.json and $OUT_DIR/e2e-cuda-float16.json"
