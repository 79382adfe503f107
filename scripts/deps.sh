#!/usr/bin/env bash
# Installs what `make run` and `make test` need when it is missing: Go modules,
# and Debian's Python data stack and bubblewrap. Without the rights to install,
# it prints the exact command to run and fails.
set -euo pipefail

PYTHON=${PYTHON:-/usr/bin/python3}
DEBS=(python3 python3-pandas python3-numpy python3-sklearn python3-statsmodels python3-scipy
      python3-plotly python3-matplotlib python3-openpyxl bubblewrap)
# `make bench` also wants Jupyter, to compare the executor with a Jupyter kernel.
WANT_BENCH_DEBS=${WANT_BENCH_DEBS:-0}

if ! command -v go >/dev/null 2>&1; then
  echo "Go is not installed: install Go 1.26 or newer (https://go.dev/doc/install) and put it on PATH." >&2
  exit 1
fi

missing=()
if ! "$PYTHON" -c 'import pandas, numpy, sklearn, statsmodels, scipy, plotly, matplotlib, openpyxl' >/dev/null 2>&1; then
  missing+=("${DEBS[@]}")
fi
if ! command -v bwrap >/dev/null 2>&1; then
  missing+=(bubblewrap)
fi
if [ "$WANT_BENCH_DEBS" = 1 ] && ! "$PYTHON" -c 'import jupyter_client, ipykernel' >/dev/null 2>&1; then
  missing+=(python3-ipykernel python3-jupyter-client)
fi

if [ ${#missing[@]} -gt 0 ]; then
  # De-duplicate.
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  cmd="apt-get install -y ${missing[*]}"
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
      else
        echo "Missing packages. Run: sudo apt-get update && sudo $cmd" >&2
        exit 1
      fi
    fi
    echo "Installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing: the Python data stack for $PYTHON (pandas numpy scikit-learn statsmodels scipy plotly matplotlib openpyxl) and bubblewrap." >&2
    echo "On Debian or Ubuntu: sudo apt-get update && sudo $cmd" >&2
    exit 1
  fi
fi

go mod download
