#!/usr/bin/env bash
# Installs an official Node.js build, as npm serves it (node-linux-<arch>@<version>, the
# tarball nodejs.org publishes), into a cache outside the repository and prints its bin folder:
#
#   ${EDGE_E2E_CACHE:-$HOME/.cache/edge-e2e}/node/<version>/bin
#
#   scripts/node.sh <version>    one of scripts/node-versions.env, installed when missing
#   scripts/node.sh --list       the supported versions, oldest first
#   scripts/node.sh --newest     the newest, which the e2e suites and the deploy workflows run
#
# CI runs the tests on each: PATH="$(scripts/node.sh 22.23.5):$PATH" npm test (.ci/run).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
versions=$(sed -n 's/^NODE_VERSIONS=//p' "$repo/scripts/node-versions.env")
case ${1:-} in
--list) echo "$versions" && exit 0 ;;
--newest) echo "${versions##* }" && exit 0 ;;
esac
version=${1:?usage: scripts/node.sh <version> | --list}
case " $versions " in
*" $version "*) ;;
*) echo "scripts/node.sh: $version is not in scripts/node-versions.env ($versions)" >&2 && exit 2 ;;
esac
case $(uname -m) in
x86_64) arch=x64 ;;
aarch64) arch=arm64 ;;
*) echo "scripts/node.sh: no Node.js build for $(uname -m)" >&2 && exit 2 ;;
esac
dir=${EDGE_E2E_CACHE:-$HOME/.cache/edge-e2e}/node/$version
if [ ! -x "$dir/bin/node" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # npm checks the tarball against the registry's integrity hash.
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$version" >/dev/null)
    mkdir -p "$tmp/node"
    tar -xzf "$tmp"/node-linux-"$arch"-"$version".tgz -C "$tmp/node" --strip-components=1
    [ "$("$tmp/node/bin/node" --version)" = "v$version" ] ||
        { echo "scripts/node.sh: the package's node is not v$version" >&2 && exit 1; }
    mkdir -p "$(dirname "$dir")"
    rm -rf "$dir"
    mv "$tmp/node" "$dir"
fi
echo "$dir/bin"
