#!/usr/bin/env bash
# Builds the KubeVirt and CDI programs the end-to-end suite runs, from their
# own source trees at the versions pinned in e2e/versions.env, into a cache
# outside the repository:
#
#   ${EDGE_E2E_CACHE:-$HOME/.cache/edge-e2e}/kubevirt-<key>/bin
#
# where <key> covers the pins, the program directories e2e/kubevirt/*/ and
# e2e/cdi/*/ and this script's recipe revision. A second run with the same
# inputs reuses the binaries (and needs neither Go nor the network). The bin
# directory is printed as the last line of stdout; progress goes to stderr.
#
#   scripts/kubevirt-tools.sh           build what is missing, print the bin dir
#   scripts/kubevirt-tools.sh --force   rebuild everything (sources are kept)
#
# Source of each pinned tree: ${EDGE_E2E_SOURCES:-<project>/../shared/sources}/
# <name>-<version>.tar.xz when present, else a shallow git clone of the tag
# whose commit must equal the pinned one. Every program directory
# e2e/kubevirt/<prog>/ is copied into the tree as edge/<prog>/ (package main,
# served by the tree's vendor/) and built as edge-kubevirt-<prog> for
# KUBEVIRT_VERSION, edge-kubevirt-<prog>-<version> for KUBEVIRT_OLDER_VERSION;
# e2e/cdi/<prog>/ likewise as edge-cdi-<prog>. KUBEVIRT_VERSION also gives
# virt-api and virt-controller. Go files of a program may be limited to one
# version with a build tag: edge_kubevirt_<major>_<minor> (edge_kubevirt_1_7)
# or edge_cdi_<major>_<minor>. Programs get -X main.edgeVersion and
# main.edgeCommit (the pins).
set -euo pipefail

# Bump when a change to this script changes what it builds.
RECIPE=1

tool=kubevirt-tools
help_lines=2,26
# shellcheck source=scripts/tools-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools-common.sh"

# --- pinned versions -----------------------------------------------------------
# The same KEY=value format scripts/e2e-tools.sh reads; only the pins of this
# script enter its cache key.
read_pins "^(KUBEVIRT|CDI)_"

for k in KUBEVIRT_VERSION KUBEVIRT_COMMIT KUBEVIRT_OLDER_VERSION KUBEVIRT_OLDER_COMMIT CDI_VERSION CDI_COMMIT; do
    [ -n "${!k:-}" ] || die "e2e/versions.env: $k is not set"
done
for k in KUBEVIRT_COMMIT KUBEVIRT_OLDER_COMMIT CDI_COMMIT; do
    [[ "${!k}" =~ ^[0-9a-f]{40}$ ]] || die "e2e/versions.env: $k must be a 40-hex commit, not ${!k}"
done

# --- cache key -----------------------------------------------------------------
# Contents of program directories under e2e/, path-stamped.
tree_digest() {
    (cd "$repo/e2e" && find "$@" -type f 2>/dev/null | LC_ALL=C sort | while IFS= read -r f; do
        printf '%s %s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"
    done)
}
programs() { (cd "$repo/e2e/$1" 2>/dev/null && find . -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort); }
key=$({
    echo "recipe=$RECIPE"
    printf '%s' "$pins" | LC_ALL=C sort
    tree_digest kubevirt cdi
} | sha)
cache=${EDGE_E2E_CACHE:-$HOME/.cache/edge-e2e}
out=$cache/kubevirt-$key
bin=$out/bin

if [ "$force" = 0 ] && [ -f "$out/complete" ]; then
    log "reusing $bin"
    echo "$bin"
    exit 0
fi

# --- toolchain -------------------------------------------------------------------
command -v go >/dev/null 2>&1 ||
    die "go not found on PATH: Go is needed to build KubeVirt $KUBEVIRT_VERSION and CDI $CDI_VERSION (see their go.mod)"
gover=$(go env GOVERSION 2>/dev/null) || die "'go env GOVERSION' failed: is $(command -v go) a working Go?"

# The trees build offline from their vendor/; never fetch a toolchain, no cgo
# (CDI's sqlite3 C source is not in its tarball). A tree's own go.work is used
# (KubeVirt's vendor/modules.txt is a workspace one), never the user's.
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=vendor -buildvcs=false"

mkdir -p "$cache/kubevirt-src" "$cache/kubevirt-build"
# One run at a time per cache.
if lock_cache "$cache/.kubevirt.lock"; then
    log "reusing $bin (built by a concurrent run)"
    echo "$bin"
    exit 0
fi

# go_version_check DIR: the tree's go directive must not be newer than $gover.
go_version_check() {
    local want have
    want=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$1/go.mod")
    have=${gover#go}
    have=${have%%[!0-9.]*}
    [ -z "$want" ] || [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" = "$want" ] ||
        die "$gover is too old: $(basename "$1") needs Go >= $want (go.mod)"
}


# build_unit NAME SRC TAGS LDFLAGS PROGDIR BINARY=PACKAGE...: builds into
# $cache/kubevirt-build/NAME-<hash>/bin unless complete, links into $stage.
# PROGDIR (a directory under e2e/, or -) is copied into SRC as edge/<prog>.
build_unit() {
    local name=$1 src=$2 tags=$3 ldflags=$4 progdir=$5
    shift 5
    local h dir work spec b pkg t0 t1 c0 c1 secs cpu bytes prog
    h=$({
        echo "recipe=$RECIPE unit=$name tags=$tags ldflags=$ldflags src=$src"
        printf '%s\n' "$@"
        [ "$progdir" = - ] || tree_digest "$progdir"
    } | sha)
    dir=$cache/kubevirt-build/$name-$h
    if [ "$force" = 0 ] && [ -f "$dir/complete" ]; then
        log "$name: reusing $dir"
    else
        rm -rf "$cache/kubevirt-build/.tmp.$name."*
        work=$(mktemp -d "$cache/kubevirt-build/.tmp.$name.$h.XXXXXX")
        chmod 755 "$work"
        mkdir -p "$work/bin"
        : >"$work/build.log"
        printf 'binary\tsource\tbuild_seconds\tcpu_seconds\tbytes\tgo\n' >"$work/build-info.tsv"
        if [ "$progdir" != - ]; then
            prog=$(basename "$progdir")
            rm -rf "$src/edge/$prog"
            mkdir -p "$src/edge"
            cp -R "$repo/e2e/$progdir" "$src/edge/$prog"
        fi
        for spec in "$@"; do
            b=${spec%%=*}
            pkg=${spec#*=}
            log "$name: building $b in $src, this can take minutes"
            t0=$(date +%s)
            c0=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat 2>/dev/null || echo 0)
            (cd "$src" && if [ -f go.work ]; then export GOWORK=$src/go.work; fi &&
                nice -n 10 go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$work/bin/$b" "$pkg") \
                >>"$work/build.log" 2>&1 || {
                tail -n 20 "$work/build.log" >&2
                die "$name: building $b failed, see $work/build.log"
            }
            t1=$(date +%s)
            c1=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat 2>/dev/null || echo 0)
            secs=$((t1 - t0))
            cpu=$(((c1 - c0) / $(getconf CLK_TCK)))
            bytes=$(stat -c %s "$work/bin/$b")
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$(cat "$src/.edge-source")" "$secs" "$cpu" "$bytes" "$gover" >>"$work/build-info.tsv"
            log "$name: built $b in ${secs}s (${cpu} CPU-s), $(human_size "$bytes")"
        done
        rm -rf "$dir"
        mv "$work" "$dir"
        touch "$dir/complete"
    fi
    stage_unit "$dir" "$@"
}

# version_tag PREFIX v1.9.0 -> PREFIX_1_9
version_tag() {
    [[ "$2" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] || die "e2e/versions.env: $2 does not look like v1.9.0"
    echo "$1_${BASH_REMATCH[1]}_${BASH_REMATCH[2]}"
}

# build_programs KIND SRC VERSION COMMIT SUFFIX: every e2e/KIND/<prog>/.
build_programs() {
    local kind=$1 src=$2 v=$3 commit=$4 suffix=$5 tag prog
    tag=$(version_tag "edge_$kind" "$v")
    for prog in $(programs "$kind"); do
        build_unit "$kind-$prog-$v" "$src" "$tag" \
            "-s -w -X main.edgeVersion=$v -X main.edgeCommit=$commit" "$kind/$prog" \
            "edge-$kind-$prog$suffix=./edge/$prog"
    done
}

# --- build -------------------------------------------------------------------------
log "cache key $key (pins: e2e/versions.env, $gover)"
rm -rf "$cache/.kubevirt-$key."*
stage=$(mktemp -d "$cache/.kubevirt-$key.XXXXXX")
chmod 755 "$stage"
mkdir -p "$stage/bin"
printf 'binary\tsource\tbuild_seconds\tcpu_seconds\tbytes\tgo\n' >"$stage/build-info.tsv"

kv_url=https://github.com/kubevirt/kubevirt
cdi_url=https://github.com/kubevirt/containerized-data-importer

kv=$(source_tree "$cache/kubevirt-src" kubevirt "$KUBEVIRT_VERSION" "$KUBEVIRT_COMMIT" "$kv_url")
go_version_check "$kv"
kv_version_pkg=kubevirt.io/client-go/version
build_unit "kubevirt-cmds-$KUBEVIRT_VERSION" "$kv" "" \
    "-s -w -X $kv_version_pkg.gitVersion=$KUBEVIRT_VERSION -X $kv_version_pkg.gitCommit=$KUBEVIRT_COMMIT -X $kv_version_pkg.gitTreeState=clean" - \
    virt-api=./cmd/virt-api virt-controller=./cmd/virt-controller
build_programs kubevirt "$kv" "$KUBEVIRT_VERSION" "$KUBEVIRT_COMMIT" ""

kv_old=$(source_tree "$cache/kubevirt-src" kubevirt "$KUBEVIRT_OLDER_VERSION" "$KUBEVIRT_OLDER_COMMIT" "$kv_url")
go_version_check "$kv_old"
build_programs kubevirt "$kv_old" "$KUBEVIRT_OLDER_VERSION" "$KUBEVIRT_OLDER_COMMIT" "-$KUBEVIRT_OLDER_VERSION"

cdi=$(source_tree "$cache/kubevirt-src" containerized-data-importer "$CDI_VERSION" "$CDI_COMMIT" "$cdi_url")
go_version_check "$cdi"
build_programs cdi "$cdi" "$CDI_VERSION" "$CDI_COMMIT" ""

printf '%s' "$pins" >"$stage/versions.env"
rm -rf "$out"
mv "$stage" "$out"
touch "$out/complete"
column -t -s $'\t' "$out/build-info.tsv" >&2 2>/dev/null || cat "$out/build-info.tsv" >&2
echo "$bin"
