#!/usr/bin/env bash
# Installs what `make run` and `make test` need when it is missing: Go modules,
# Debian's Python data stack and bubblewrap, Node.js (for the GraphQL-over-HTTP
# audit, e2e/httpspec_test.go, the browser test, e2e/browser_test.go, and the
# codegen test, e2e/codegen_test.go), Debian's Chromium (/usr/bin/chromium, for
# the browser test) and the three tests' npm packages. Without the rights to
# install, it prints the exact command to run and fails.
set -euo pipefail

PYTHON=${PYTHON:-/usr/bin/python3}
DEBS=(python3 python3-pandas python3-numpy python3-sklearn python3-statsmodels python3-scipy
      python3-plotly python3-matplotlib python3-openpyxl python3-xlrd bubblewrap)
# `make bench` also wants Jupyter, to compare the executor with a Jupyter kernel.
WANT_BENCH_DEBS=${WANT_BENCH_DEBS:-0}

if ! command -v go >/dev/null 2>&1; then
  echo "Go is not installed: install Go 1.26 or newer (https://go.dev/doc/install) and put it on PATH." >&2
  exit 1
fi

missing=()
if ! "$PYTHON" -c 'import pandas, numpy, sklearn, statsmodels, scipy, plotly, matplotlib, openpyxl, xlrd' >/dev/null 2>&1; then
  missing+=("${DEBS[@]}")
fi
if ! command -v bwrap >/dev/null 2>&1; then
  missing+=(bubblewrap)
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
# The browser test drives Debian's Chromium at this path (never a downloaded build).
if [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi
# promtool checks the scraped /metrics in e2e/metrics_test.go (Debian's prometheus package).
if ! command -v promtool >/dev/null 2>&1; then
  missing+=(prometheus)
fi
# The chat export tests validate notebooks with nbformat (export/, e2e/export_test.go).
if ! "$PYTHON" -c 'import nbformat' >/dev/null 2>&1; then
  missing+=(python3-nbformat)
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
    echo "Missing Debian packages: ${missing[*]} (for $PYTHON's data stack, the sandbox, the HTTP audit and the browser test)." >&2
    echo "On Debian or Ubuntu: sudo apt-get update && sudo $cmd" >&2
    exit 1
  fi
fi

# The npm packages of the GraphQL-over-HTTP audit (graphql-http), of the
# browser test (playwright-core, which drives /usr/bin/chromium and downloads no
# browser) and of the codegen test (@graphql-codegen/cli and typescript), each
# pinned by its package-lock.json. node_modules/.deps-lock is the lock they were
# installed from; a different one means they are stale.
npm_ci() { # DIR PACKAGES
  local dir="$(dirname "$0")/../$1"
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
     { [ ! -f "$dir/node_modules/.deps-lock" ] || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.deps-lock"; }; then
    echo "Installing: $2 (npm ci in $1)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$dir/package-lock.json" "$dir/node_modules/.deps-lock"
  fi
}
npm_ci e2e/testdata/graphql-http-audit graphql-http
npm_ci e2e/testdata/browser playwright-core
npm_ci e2e/testdata/codegen '@graphql-codegen/cli and typescript'

go mod download
