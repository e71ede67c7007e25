#!/usr/bin/env bash
# Distributed training with torchrun: one process per GPU (or per CPU process
# on a machine without CUDA, where mmwsss falls back to gloo).
#   bash tools/dist_train.sh CONFIG GPUS [train.py args...]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT, e.g. on node 0 of 2:
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash tools/dist_train.sh CONFIG 8
# PYTHON: the interpreter (default: the README's .venv when there, else python).
# A total batch (processes x train_dataloader.batch_size) other than the recipe's
# (auto_scale_lr.base_batch_size) is one warning in the log, saying what to change.
set -e
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(dirname "$0")/.."
. "$ROOT/tools/whole_number.sh"
need_whole_number GPUS "$GPUS" 1
need_whole_number NNODES "$NNODES" 1
need_whole_number NODE_RANK "$NODE_RANK" 0 $((NNODES - 1))
need_whole_number PORT "$PORT" 1 65535
if [ -z "$PYTHON" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi
export PYTHONPATH="$ROOT":$PYTHONPATH

# The config and its data are checked once on this node, before the ranks start:
# an error is printed once, without torchrun's failure report for every rank.
if [[ " ${*:3} " != *" --skip-data-check "* ]]; then
  "$PYTHON" "$(dirname "$0")"/train.py "$CONFIG" "${@:3}" --check-data-only
fi

MMWSSS_DATA_CHECKED=1 \
"$PYTHON" -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    "$(dirname "$0")"/train.py \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
