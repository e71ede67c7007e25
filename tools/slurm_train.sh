#!/usr/bin/env bash
# Training on a Slurm cluster (one task per GPU, mmengine's slurm launcher).
#   [GPUS=8] [GPUS_PER_NODE=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]
# GPUS defaults to the recipe's count: its total batch (auto_scale_lr.base_batch_size in the
# config, else the N x B of `_NxbB` in its name) over the per-GPU batch
# (train_dataloader.batch_size, after --cfg-options), as `tools/train.py CONFIG --recipe-gpus`
# prints it; a config that records neither is an error asking for GPUS. GPUS_PER_NODE
# defaults to min(GPUS, 8). A GPUS that does not make the recipe's total batch is one
# warning in the log.
# PYTHON: the interpreter (default: the README's .venv when there, else python).
set -x

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
PY_ARGS=${@:4}
ROOT="$(dirname "$0")/.."
if [ -z "$PYTHON" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi
if [ -z "$GPUS" ]; then
  GPUS=$(PYTHONPATH="$ROOT":$PYTHONPATH "$PYTHON" "$(dirname "$0")"/train.py ${CONFIG} \
    ${PY_ARGS} --recipe-gpus | tail -n 1)
  [[ "$GPUS" =~ ^[0-9]+$ ]] || exit 1  # train.py said why
fi
. "$ROOT/tools/whole_number.sh"
need_whole_number GPUS "$GPUS" 1
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
need_whole_number GPUS_PER_NODE "$GPUS_PER_NODE" 1
need_whole_number CPUS_PER_TASK "$CPUS_PER_TASK" 1
SRUN_ARGS=${SRUN_ARGS:-""}

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
