# shellcheck shell=bash
# What scripts/e2e-tools.sh and scripts/kubevirt-tools.sh share, sourced by both after they set
# `tool` (the prefix of their messages) and `help_lines` (the range of their header to print):
# messages, the [--force | --help] argument, the pins of e2e/versions.env, the cache key's hash and
# the one-run-at-a-time lock.

log() { printf '%s: %s\n' "$tool" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$tool" "$*" >&2
    exit 1
}

force=0
case "${1:-}" in
'') ;;
--force) force=1 ;;
-h | --help)
    sed -n "${help_lines}p" "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*) die "unknown argument: $1 (usage: $0 [--force])" ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
versions_file=$repo/e2e/versions.env
[ -f "$versions_file" ] || die "missing $versions_file"

# read_pins [-v] REGEX: sets every KEY=value line of e2e/versions.env as a variable (the file is
# the only source: the environment's values are overridden) and keeps in `pins` the lines whose
# key matches REGEX (with -v: does not), which enter the caller's cache key. Values are plain
# version strings and URLs.
read_pins() {
    local line keep=1
    if [ "$1" = -v ]; then
        keep=0
        shift
    fi
    pins=""
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in '' | '#'*) continue ;; esac
        [[ "$line" =~ ^([A-Z][A-Z0-9_]*)=([A-Za-z0-9._+:/-]*)$ ]] ||
            die "e2e/versions.env: not a KEY=value line: $line"
        printf -v "${BASH_REMATCH[1]}" '%s' "${BASH_REMATCH[2]}"
        local matches=0
        [[ "${BASH_REMATCH[1]}" =~ $1 ]] && matches=1
        if [ "$matches" = "$keep" ]; then
            pins+="$line"$'\n'
        fi
    done <"$versions_file"
}

sha() { sha256sum | cut -c1-16; }
human_size() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }

# lock_cache FILE: one run at a time per cache; true when a concurrent run completed $out meanwhile.
lock_cache() {
    command -v flock >/dev/null 2>&1 || return 1
    exec 9>"$1"
    flock 9
    [ "$force" = 0 ] && [ -f "$out/complete" ]
}

# stage_unit DIR BINARY=PACKAGE...: adds a built unit's binaries and build-info rows to $stage.
stage_unit() {
    local dir=$1 spec b
    shift
    tail -n +2 "$dir/build-info.tsv" >>"$stage/build-info.tsv"
    for spec in "$@"; do
        b=${spec%%=*}
        ln -f "$dir/bin/$b" "$stage/bin/$b" 2>/dev/null || cp -p "$dir/bin/$b" "$stage/bin/$b"
    done
}

# Where the source tarballs of what the module proxy refuses are (see ../shared/sources/README.md).
sources=${EDGE_E2E_SOURCES:-$repo/../shared/sources}
sources=$(cd "$sources" 2>/dev/null && pwd || printf '%s' "$sources")

# source_tree DIR NAME REF COMMIT URL: prints the path of NAME's tree at COMMIT, extracted once
# into DIR from $sources/NAME-REF.tar.xz (whose top folder is NAME-REF) when present, else
# cloned from URL: the tag REF when it is one (v1.2.3), else the commit itself; a clone must be
# at COMMIT.
source_tree() {
    local root=$1 name=$2 v=$3 commit=$4 url=$5 dir tmp tarball head err rc=0
    dir=$root/$name-$v-${commit:0:12}
    if [ -f "$dir.complete" ]; then
        echo "$dir"
        return
    fi
    mkdir -p "$root"
    rm -rf "$dir" "$dir.tmp."*
    tmp=$(mktemp -d "$dir.tmp.XXXXXX")
    tarball=$sources/$name-$v.tar.xz
    if [ -f "$tarball" ]; then
        log "$name $v: extracting $tarball"
        tar -xJf "$tarball" -C "$tmp" 2>"$tmp.err" ||
            die "$name $v: extracting $tarball failed: $(head -n1 "$tmp.err")"
        [ -d "$tmp/$name-$v" ] || die "$name $v: $tarball has no top folder $name-$v"
        printf 'tarball %s (commit %s per %s/README.md)\n' "$tarball" "$commit" "$sources" >"$tmp/$name-$v/.edge-source"
    else
        command -v git >/dev/null 2>&1 ||
            die "$name $v: no source: $tarball is absent and git is not installed to clone $url"
        if [[ "$v" =~ ^v[0-9] ]]; then
            log "$name $v: $tarball absent, cloning tag $v of $url"
            timeout 900 git clone --quiet --depth 1 --branch "$v" --single-branch "$url" "$tmp/$name-$v" 2>"$tmp.err" || rc=$?
        else
            log "$name $v: $tarball absent, cloning commit $commit of $url"
            (git init --quiet "$tmp/$name-$v" && cd "$tmp/$name-$v" &&
                timeout 900 git fetch --quiet --depth 1 "$url" "$commit" &&
                git checkout --quiet FETCH_HEAD) 2>"$tmp.err" || rc=$?
        fi
        if [ "$rc" != 0 ]; then
            err=$(grep -m1 -E 'fatal|error' "$tmp.err" || head -n1 "$tmp.err")
            [ "$rc" = 124 ] && err="timed out after 900s"
            die "$name $v: no source: $tarball is absent and cloning $url failed: ${err:-exit $rc}"
        fi
        head=$(git -C "$tmp/$name-$v" rev-parse HEAD)
        [ "$head" = "$commit" ] || die "$name $v: $v of $url is commit $head, the pin says $commit"
        printf 'git %s %s commit %s\n' "$url" "$v" "$head" >"$tmp/$name-$v/.edge-source"
    fi
    rm -f "$tmp.err"
    mv "$tmp/$name-$v" "$dir"
    rmdir "$tmp"
    touch "$dir.complete"
    echo "$dir"
}
