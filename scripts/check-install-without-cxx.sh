#!/usr/bin/env bash
# Proves that `cargo install --path cli` (the default features: NATS, no
# Kafka) works on a machine without cmake or a C++ compiler (issue 20,
# item 5), and that the command it installs runs:
#   - c++, g++, clang++ (and their versioned and target-prefixed names) and
#     cmake are shadowed on PATH by shims that fail loudly and log the call;
#     CXX and CMAKE point at them too. The C compiler stays: rustc links
#     through `cc`, so every Rust install has one (ring builds its C and
#     assembly with it);
#   - it installs into a temporary --root, building in a fresh target
#     directory, so nothing compiled earlier with a C++ compiler is reused
#     (set CARGO_TARGET_DIR to reuse one: faster, but then it only proves
#     that nothing rebuilt needs C++);
#   - the installed `logstream --version` must print the on-disk format, and
#     `logstream forward --to kafka://…` must be refused with exit code 2 and
#     the install line that brings Kafka;
#   - any call of a shim fails the check, even when the build succeeded.
# PROFILE=dist installs with the distribution profile (default: release,
# what `cargo install` uses). Prints the time the install took.
# Usage: scripts/check-install-without-cxx.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/logstream-install-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
shims="$work/shims"
calls="$work/shim-calls"
mkdir -p "$shims"
: >"$calls"

names=(c++ g++ clang++ cmake "$(uname -m)-linux-gnu-g++")
for dir in ${PATH//:/ }; do
  for f in "$dir"/g++-* "$dir"/clang++-* "$dir"/*-linux-gnu-g++*; do
    [ -e "$f" ] && names+=("$(basename "$f")")
  done
done
for name in "${names[@]}"; do
  cat >"$shims/$name" <<EOF
#!/bin/sh
echo "check-install-without-cxx: the build ran '$name \$*': it needs a C++ compiler or cmake" >&2
echo "$name \$*" >>"$calls"
exit 1
EOF
  chmod +x "$shims/$name"
done

export PATH="$shims:$PATH"
export CXX="$shims/c++" HOST_CXX="$shims/c++" TARGET_CXX="$shims/c++" CMAKE="$shims/cmake"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$work/target}"
profile="${PROFILE:-release}"

for tool in c++ g++ cmake; do
  case "$(command -v "$tool")" in
    "$shims"/*) ;;
    *) echo "check-install-without-cxx: $tool is not shadowed by the shim" >&2; exit 1 ;;
  esac
done

echo "installing logstream-cli from $repo/cli (profile $profile, target $CARGO_TARGET_DIR) with c++/g++/clang++/cmake failing"
start=$(date +%s)
# cc-rs prefers a target-specific CXX_<triple> over CXX: none may bypass the shims.
if ! env -u "CXX_$(uname -m)_unknown_linux_gnu" -u "CXX_$(uname -m)-unknown-linux-gnu" \
  cargo install --locked --path "$repo/cli" --root "$work/root" --profile "$profile" --quiet; then
  echo "check-install-without-cxx: FAILED: cargo install --path cli did not build without a C++ compiler and cmake" >&2
  [ -s "$calls" ] && { echo "shims called:" >&2; cat "$calls" >&2; }
  exit 1
fi
took=$(($(date +%s) - start))

if [ -s "$calls" ]; then
  echo "check-install-without-cxx: FAILED: the build succeeded but ran a C++ compiler or cmake:" >&2
  cat "$calls" >&2
  exit 1
fi

bin="$work/root/bin/logstream"
version=$("$bin" --version)
case "$version" in
  logstream\ *"on-disk log format"*) ;;
  *) echo "check-install-without-cxx: FAILED: unexpected '$bin --version': $version" >&2; exit 1 ;;
esac

set +e
refusal=$("$bin" --dir "$work" forward --to kafka://127.0.0.1:9092 --group check 2>&1)
code=$?
set -e
if [ "$code" -ne 2 ] || [[ "$refusal" != *"cargo install logstream-cli --features kafka"* ]]; then
  echo "check-install-without-cxx: FAILED: forward --to kafka:// gave exit code $code: $refusal" >&2
  exit 1
fi

size=$(stat -c %s "$bin")
echo "ok: installed without C++ or cmake in ${took}s; $version; binary $((size / 1024)) KiB"
echo "ok: without the kafka feature: $refusal"
