#!/usr/bin/env bash
# Makes this checkout small enough to travel to a lent GPU machine, and puts it back.
#
# The device tool sends the checkout's tracked files and the untracked ones git does not
# ignore, at most 64 MiB in all; the zoo's published weights and sample sheets are about
# 390 MB of tracked files that training with --nopublish never reads. Around the device call:
#
#     bash tools/device_tree.sh slim      # untrack zoo/ (files stay on disk), ignore it
#     ... device run of tools/train_zoo_gpu.sh, carry [".dev"] ...
#     bash tools/device_tree.sh restore   # the index as HEAD has it, the ignore rule gone
#
# slim keeps zoo/classifier_*/ tracked (SRGAN's perceptual loss reads classifier_cifar10)
# and prints what will travel, .dev/ included. Nothing on disk is touched; do not commit
# between slim and restore (the untracked zoo files are staged as deletions). restore is
# safe to run twice.
#
#     bash tools/device_tree.sh prepare [SET ...]
#
# fills the git-ignored .dev/ that tools/train_zoo_gpu.sh reads there (a fresh checkout has
# none): the keras (this checkout's version), namex and optree wheels for the machine's
# Python 3.12, downloaded unless .dev/wheels/ holds them, and copies of the data sets SET
# (mnist, fashion_mnist, cifar10, spoken_digits; default cifar10) from ../shared/data (or
# $SHARED_DATA). Give only the sets of the entries to train: all four are 90 MiB, more than
# the 64 MiB the device tool sends.
set -euo pipefail
cd "$(dirname "$0")/.."
EXCLUDE=$(git rev-parse --git-path info/exclude)
MARK="# device_tree.sh slim: zoo/ stays home"
LIMIT=$((64 * 1024 * 1024))

restore() {
  git reset -q -- zoo
  if [ -f "$EXCLUDE" ]; then
    sed -i "\|^$MARK\$|,+1d" "$EXCLUDE"   # the mark and the rule after it
  fi
}

prepare() {
  local python=${PYTHON:-python3} data=${SHARED_DATA:-../shared/data} sets=("$@") set files f
  if [ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ]; then python=.venv/bin/python; fi
  local version
  version=$("$python" -c 'import importlib.metadata as m; print(m.version("keras"))')
  mkdir -p .dev/wheels
  if ! { ls .dev/wheels/keras-"$version"-*.whl && ls .dev/wheels/namex-*.whl &&
         ls .dev/wheels/optree-*cp312*.whl; } >/dev/null 2>&1; then
    "$python" -m pip download -q --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_17_x86_64 --no-deps -d .dev/wheels "keras==$version" namex optree
  fi
  [ ${#sets[@]} -gt 0 ] || sets=(cifar10)
  for set in "${sets[@]}"; do
    case "$set" in
      mnist|fashion_mnist) files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz" ;;
      cifar10) files="cifar10_train_jpeg.npz cifar10_test_jpeg.npz" ;;
      spoken_digits) files="spoken_digits.npz" ;;
      *) echo "unknown data set '$set': mnist, fashion_mnist, cifar10 or spoken_digits" >&2
         exit 2 ;;
    esac
    mkdir -p ".dev/data/$set"
    for f in $files; do
      cp -L "$data/$set/$f" ".dev/data/$set/"   # a copy: a link would travel as a link
    done
  done
  ls .dev/wheels
  du -sh .dev
}

case "${1:-}" in
  prepare)
    shift
    prepare "$@"
    ;;
  slim)
    mkdir -p "$(dirname "$EXCLUDE")"
    grep -qxF "$MARK" "$EXCLUDE" 2>/dev/null || printf '%s\n/zoo/\n' "$MARK" >> "$EXCLUDE"
    git ls-files -z zoo | grep -zv '^zoo/classifier_' | xargs -0 -r git rm -q --cached --
    bytes=$( { git ls-files -z; git ls-files -z --others --exclude-standard
               if [ -d .dev ]; then find .dev -type f -print0; fi; } |
             du -cb --files0-from=- | tail -1 |
             cut -f1)
    echo "travels: $((bytes / 1048576)) MiB of $((LIMIT / 1048576)) MiB (tracked, untracked" \
         "not ignored, .dev/)"
    if [ "$bytes" -gt "$LIMIT" ]; then
      restore
      echo "still over the device tool's limit, so the index is restored: carry less in" \
           ".dev/ (only the data of the entries to train), or find the largest tracked" \
           "files with 'git ls-files -z | xargs -0 du -b | sort -n | tail'" >&2
      exit 1
    fi
    ;;
  restore)
    restore
    git status --short zoo | head -5
    ;;
  *)
    echo "usage: bash tools/device_tree.sh prepare [SET ...]|slim|restore" >&2
    exit 2
    ;;
esac
