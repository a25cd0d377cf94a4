#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (CI runs as
# root). Each entry: a command the tests run, and the Debian package with it.
set -euo pipefail

declare -A needs=(
  [git]=git
  [tar]=tar
  [gzip]=gzip
  [sha256sum]=coreutils
  # The cross-build image's offline bootstrap (xtask/tests/container.rs).
  [mmdebstrap]=mmdebstrap
  # The loopback snapshot mirror of the image tests (xtask/tests/image.rs):
  # its indexes, its signature, its HTTP server.
  [apt-ftparchive]=apt-utils
  [gpg]=gnupg
  [python3]=python3
  # Runs the linux/arm64 binaries on x86_64 hosts (xtask/tests/container.rs).
  [qemu-aarch64]=qemu-user
  # cargo xtask local-up waits for /readyz with it (xtask/tests/local_up.rs).
  [curl]=curl
  # The etcd client's build script (staging/storage) generates its gRPC code.
  [protoc]=protobuf-compiler
  # The etcd3 backend's tests run a real etcd (staging/storage, cmd tests).
  [etcd]=etcd-server
)
# Files a package brings that no command stands for.
declare -A files=(
  # protoc's well-known types, imported by etcd's .proto files.
  [/usr/include/google/protobuf/descriptor.proto]=libprotobuf-dev
)

missing=()
for command in "${!needs[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${needs[$command]}")
done
# The official Python client's test makes a virtual environment
# (cmd/kube-apiserver/tests/python_client.rs); Debian's python3 needs this.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
for file in "${!files[@]}"; do
  [[ -e "$file" ]] || missing+=("${files[$file]}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing test prerequisites: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
