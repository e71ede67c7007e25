# Sourced by tools/dist_train.sh, dist_test.sh and slurm_train.sh: a count, rank or
# port that is not a whole number in range is refused before anything starts, as the
# Python tools refuse theirs (mmwsss/cli/argtypes.py).
#   need_whole_number NAME VALUE MIN [MAX]
need_whole_number() {
  local name=$1 value=$2 min=$3 max=${4:-}
  if ! [[ $value =~ ^[0-9]{1,9}$ ]] || ((10#$value < min)) ||
      { [ -n "$max" ] && ((10#$value > max)); }; then
    echo "$(basename "$0"): $name wants a whole number >= $min${max:+ and <= $max}," \
      "got '$value'" >&2
    exit 2
  fi
}
