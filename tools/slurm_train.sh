#!/usr/bin/env bash
# Training on a Slurm cluster (one task per GPU, mmengine's slurm launcher).
#   [GPUS=8] [GPUS_PER_NODE=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]
# GPUS defaults to the recipe's count, the N of `_Nxb` in the config's name
# (deeplabv2 2, deeplabv3plus 4, segformer and knet 8), so that the total batch
# is the recipe's; GPUS_PER_NODE to min(GPUS, 8).
# PYTHON: the interpreter (default: the README's .venv when there, else python).
set -x

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
RECIPE_GPUS=$(basename "$CONFIG" | sed -nE 's/.*_([0-9]+)xb[0-9]+.*/\1/p')
GPUS=${GPUS:-${RECIPE_GPUS:-4}}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PY_ARGS=${@:4}
ROOT="$(dirname "$0")/.."
if [ -z "$PYTHON" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi

PYTHONPATH="$ROOT":$PYTHONPATH \
srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    --gres=gpu:${GPUS_PER_NODE} \
    --ntasks=${GPUS} \
    --ntasks-per-node=${GPUS_PER_NODE} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u $(dirname "$0")/train.py ${CONFIG} --launcher="slurm" ${PY_ARGS}
