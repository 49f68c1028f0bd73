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
