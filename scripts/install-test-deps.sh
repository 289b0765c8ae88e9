#!/usr/bin/env bash
# Installs what the README's test command (`cargo test --workspace
# --exclude logstream-kafka`) needs beyond the Rust toolchain, and nothing
# when it is already there (no apt-get update then):
#   - nats-server, for the logstream-nats and CLI `forward` tests (a real
#     server with JetStream; Debian puts it in /usr/sbin);
#   - a C compiler (ring, under the NATS client's TLS, compiles some C);
#   - with `--kafka`, for the Kafka tests (`cargo test -p logstream-kafka`,
#     `cargo test -p logstream-cli --features kafka-tests`): a C++ compiler,
#     make, pkg-config and zlib's headers, for the librdkafka that
#     logstream-kafka builds from source (rdkafka-sys runs librdkafka's
#     ./configure with curl, zstd, SSL and SASL disabled, so no cmake and no
#     other -dev package is needed);
#   - tmux, for the CLI `top` test that runs the real binary in a
#     pseudo-terminal and reads its screen (tmux capture-pane);
#   - script (util-linux, Debian's bsdutils), for the tests that record what
#     the progress bars draw on a terminal.
# Fails with one message naming what is missing when it cannot install it.
# Usage: scripts/install-test-deps.sh [--kafka]
set -euo pipefail

kafka=false
case "${1:-}" in
  --kafka) kafka=true ;;
  "") ;;
  *) echo "usage: $0 [--kafka]" >&2; exit 2 ;;
esac

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
have nats-server || [ -x /usr/sbin/nats-server ] || [ -n "${NATS_SERVER:-}" ] || missing+=(nats-server)
have cc || missing+=(gcc)
if $kafka; then
  have c++ || missing+=(g++)
  have make || missing+=(make)
  have pkg-config || missing+=(pkg-config)
  [ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
fi
have tmux || missing+=(tmux)
have script || missing+=(bsdutils)

if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies: all present"
  exit 0
fi

echo "test dependencies: installing ${missing[*]}"
if ! have apt-get; then
  echo "error: the tests need ${missing[*]} and this script only knows apt-get; install them with your package manager (or set NATS_SERVER to a nats-server binary)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if have sudo; then SUDO="sudo"; else
    echo "error: the tests need ${missing[*]}; run this script as root (or with sudo available) to install them" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
  echo "error: could not install ${missing[*]} with apt-get; install them by hand and run again" >&2
  exit 1
fi
echo "test dependencies: installed ${missing[*]}"
