#!/usr/bin/env bash
# Builds the binaries the end-to-end suite runs (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, pulumi, ...) from Go modules only, at the versions
# pinned in e2e/versions.env, into a cache outside the repository:
#
#   ${EDGE_E2E_CACHE:-$HOME/.cache/edge-e2e}/<key>/bin
#
# where <key> is derived from the pinned versions, the wrapper modules under
# e2e/tools/ and this script's recipe revision. A second run with the same
# pins reuses the binaries (and needs neither Go nor the network). The bin
# directory is printed as the last line of stdout; progress goes to stderr.
#
#   scripts/e2e-tools.sh            build what is missing, print the bin dir
#   scripts/e2e-tools.sh --force    rebuild everything
#
# Each tool is built in its own directory, ${cache}/build/<tool>-<hash>, whose
# hash covers only that tool's pins, so changing one pin rebuilds one tool.
# Its generated go.mod/go.sum, build.log and build-info.tsv stay there.
set -euo pipefail

# Bump when a change to this script changes what it builds.
RECIPE=2

tool=e2e-tools
help_lines=2,19
# shellcheck source=scripts/tools-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools-common.sh"
tools_dir=$repo/e2e/tools

# --- pinned versions -------------------------------------------------------
# Only KEY=value lines; values are plain version strings. Anything with the
# same name in the environment is overridden: the file is the only source.
read_pins -v "^(KUBEVIRT|CDI|GUEST)_"

for k in GO_MIN_VERSION ETCD_VERSION KUBERNETES_VERSION PULUMI_VERSION \
    PULUMI_SOURCE_REF PULUMI_SOURCE_COMMIT PULUMI_LANGUAGE_NODEJS_REPORTS \
    RANCHER2_PROVIDER_REF RANCHER2_PROVIDER_COMMIT RANCHER2_PROVIDER_AS \
    TERRAFORM_PROVIDER_RANCHER2_REF TERRAFORM_PROVIDER_RANCHER2_COMMIT \
    TLS_PROVIDER_REF TLS_PROVIDER_COMMIT TERRAFORM_PROVIDER_TLS_VERSION TLS_PROVIDER_AS \
    COMMAND_PROVIDER_REF COMMAND_PROVIDER_COMMIT; do
    [ -n "${!k:-}" ] || die "e2e/versions.env: $k is not set"
done
KUBERNETES_CONTROLLER_MANAGER=${KUBERNETES_CONTROLLER_MANAGER:-0}
PULUMI_KUBERNETES_PROVIDER_VERSION=${PULUMI_KUBERNETES_PROVIDER_VERSION:-}
PULUMI_KUBERNETES_VERSION=${PULUMI_KUBERNETES_VERSION:-}
WIREGUARD_GO_VERSION=${WIREGUARD_GO_VERSION:-}
if [ -n "$PULUMI_KUBERNETES_PROVIDER_VERSION" ] && [ -z "$PULUMI_KUBERNETES_VERSION" ]; then
    die "e2e/versions.env: PULUMI_KUBERNETES_VERSION is needed with PULUMI_KUBERNETES_PROVIDER_VERSION"
fi
[[ "$KUBERNETES_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] ||
    die "e2e/versions.env: KUBERNETES_VERSION must look like v1.35.4, not $KUBERNETES_VERSION"
k8s_minor=${BASH_REMATCH[1]}
k8s_staging_version=v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}

# --- cache key ---------------------------------------------------------------
# Contents of one wrapper module directory (or of all of them), path-stamped.
tree_digest() {
    (cd "$tools_dir" && find "$@" -type f | LC_ALL=C sort | while IFS= read -r f; do
        printf '%s %s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"
    done)
}
key=$({
    echo "recipe=$RECIPE"
    printf '%s' "$pins" | LC_ALL=C sort
    tree_digest .
} | sha)
cache=${EDGE_E2E_CACHE:-$HOME/.cache/edge-e2e}
out=$cache/$key
bin=$out/bin

if [ "$force" = 0 ] && [ -f "$out/complete" ]; then
    log "reusing $bin"
    echo "$bin"
    exit 0
fi

# --- toolchain and proxy ---------------------------------------------------
command -v go >/dev/null 2>&1 ||
    die "go not found on PATH: Go >= $GO_MIN_VERSION is needed to build the e2e tools"
gover=$(go env GOVERSION 2>/dev/null) || die "'go env GOVERSION' failed: is $(command -v go) a working Go?"
if [[ "$gover" =~ ^go([0-9]+\.[0-9]+(\.[0-9]+)?)$ ]]; then
    v=${BASH_REMATCH[1]}
    [ "$(printf '%s\n%s\n' "$GO_MIN_VERSION" "$v" | sort -V | head -n1)" = "$GO_MIN_VERSION" ] ||
        die "$gover is too old: Go >= $GO_MIN_VERSION is needed to build the e2e tools"
fi

# Never fetch a toolchain, never join a workspace, no cgo, and flags of our own
# only (GOPROXY, GOSUMDB, GOPRIVATE etc. are the user's).
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false

mkdir -p "$cache/build"
# One run at a time per cache.
if lock_cache "$cache/.lock"; then
    log "reusing $bin (built by a concurrent run)"
    echo "$bin"
    exit 0
fi

# fetch MODULE VERSION: downloads one module into the module cache and prints
# the path of its go.mod; a proxy that cannot be reached or refuses the
# version ends the run with one line.
fetch() {
    local json rc=0 err
    json=$(timeout 300 go mod download -json "$1@$2" 2>&1) || rc=$?
    if [ "$rc" = 124 ]; then
        die "Go module proxy ($(go env GOPROXY)) timed out after 300s fetching $1@$2"
    fi
    if [ "$rc" != 0 ]; then
        err=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
        [ -n "$err" ] || err=$(printf '%s\n' "$json" | grep -v '^[[:space:]]*[{}]' | head -n1)
        err=${err//\\n/ }
        err=${err//\\t/ }
        err=${err//\\\"/\"}
        die "cannot fetch $1@$2 from the Go module proxy ($(go env GOPROXY)): $err"
    fi
    printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p'
}

# Modules a go.mod requires at v0.0.0 (Kubernetes' staging modules).
v000_requires() {
    awk '
        /^require[ \t]*\([ \t]*$/ { inreq = 1; next }
        inreq && /^[ \t]*\)/ { inreq = 0; next }
        inreq && $2 == "v0.0.0" { print $1 }
        /^require[ \t]+[^( \t]/ && $3 == "v0.0.0" { print $2 }
    ' "$1"
}

# Non-directory replace directives of a go.mod, as go mod edit -replace args.
module_replaces() {
    awk '
        /^replace[ \t]*\([ \t]*$/ { inrep = 1; next }
        inrep && /^[ \t]*\)/ { inrep = 0; next }
        inrep || /^replace[ \t]/ {
            s = $0; sub(/\/\/.*/, "", s); sub(/^replace[ \t]+/, "", s); $0 = s
            if (NF == 0) next
            if ($2 == "=>") { old = $1; n = 3 } else if ($3 == "=>") { old = $1 "@" $2; n = 4 } else next
            if ($n ~ /^[.\/]/ || $(n + 1) == "") next
            print old "=" $n "@" $(n + 1)
        }
    ' "$1"
}


# Filled by the tool functions; read by build_tool.
declare -a mod_edits
ldflags=""
tool_version=""

# new_work_dir NAME HASH: prints a fresh build directory for a tool, with its bin/, build.log and
# build-info.tsv header, after removing what a failed run left (kept until now for its build.log).
new_work_dir() {
    local work
    rm -rf "$cache/build/.tmp.$1."*
    work=$(mktemp -d "$cache/build/.tmp.$1.$2.XXXXXX")
    chmod 755 "$work"
    mkdir -p "$work/bin"
    : >"$work/build.log"
    printf 'binary\tversion\tbuild_seconds\tbytes\tversion_output\tgo\n' >"$work/build-info.tsv"
    echo "$work"
}

# build_binaries WORK MODDIR GOFLAGS VERIFY_FUNC LABEL BINARY=PACKAGE...: builds each package
# of the Go module in MODDIR into WORK/bin with `ldflags`, checks it with VERIFY_FUNC and records
# it, LABEL as its version, in WORK/build-info.tsv. `name` is the caller's tool.
build_binaries() {
    local work=$1 moddir=$2 goflags=$3 verify=$4 label=$5 spec b pkg t0 t1 secs bytes vout
    shift 5
    for spec in "$@"; do
        b=${spec%%=*}
        pkg=${spec#*=}
        log "$name: building $b ($label), this can take minutes"
        t0=$(date +%s)
        (cd "$moddir" && GOFLAGS="$goflags" nice -n 10 \
            go build -trimpath -ldflags "$ldflags" -o "$work/bin/$b" "$pkg") >>"$work/build.log" 2>&1 || {
            tail -n 20 "$work/build.log" >&2
            die "$name: building $b failed, see $work/build.log"
        }
        t1=$(date +%s)
        secs=$((t1 - t0))
        bytes=$(stat -c %s "$work/bin/$b")
        vout=$("$verify" "$work/bin/$b" 2>&1 | head -n1) ||
            die "$name: $b built but its check failed: $vout"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$label" "$secs" "$bytes" "$vout" "$gover" >>"$work/build-info.tsv"
        log "$name: built $b in ${secs}s, $(human_size "$bytes"), reports: $vout"
    done
}

# build_tool NAME DIGEST_INPUT PREPARE_FUNC VERIFY_FUNC BINARY=PACKAGE...
# Builds the binaries of one wrapper module into $cache/build/NAME-<hash>/bin
# unless that directory is complete already, then links them into $stage.
build_tool() {
    local name=$1 digest_input=$2 prepare=$3 verify=$4
    shift 4
    local h dir work
    h=$({
        echo "recipe=$RECIPE tool=$name go-min=$GO_MIN_VERSION"
        printf '%s\n' "$digest_input"
        tree_digest "$name"
    } | sha)
    dir=$cache/build/$name-$h
    if [ "$force" = 0 ] && [ -f "$dir/complete" ]; then
        log "$name: reusing $dir"
    else
        work=$(new_work_dir "$name" "$h")
        cp -R "$tools_dir/$name/." "$work/"
        mod_edits=()
        ldflags="-s -w"
        tool_version=""
        "$prepare" "$work"
        (cd "$work" && go mod edit "${mod_edits[@]}" && go mod tidy) >>"$work/build.log" 2>&1 ||
            die "$name: go mod tidy failed, see $work/build.log: $(grep -m1 -v '^go: downloading' "$work/build.log" || true)"
        "$prepare" "$work" ldflags
        build_binaries "$work" "$work" "$GOFLAGS" "$verify" "$tool_version" "$@"
        rm -rf "$dir"
        mv "$work" "$dir"
        touch "$dir/complete"
    fi
    stage_unit "$dir" "$@"
}

# --- wireguard-go ------------------------------------------------------------
prepare_wireguard_go() {
    if [ "${2:-}" = ldflags ]; then return; fi
    tool_version=$WIREGUARD_GO_VERSION
    fetch golang.zx2c4.com/wireguard "$WIREGUARD_GO_VERSION" >/dev/null
    mod_edits=("-require=golang.zx2c4.com/wireguard@$WIREGUARD_GO_VERSION")
}
verify_wireguard_go() {
    # Without an interface name it prints its usage and exits 2.
    local o
    o=$("$1" 2>&1) && return 1
    grep -q '^usage: wireguard-go <interface>$' <<<"$o" || {
        echo "unexpected output: $o"
        return 1
    }
    echo "$o"
}

# --- etcd --------------------------------------------------------------------
prepare_etcd() {
    if [ "${2:-}" = ldflags ]; then return; fi
    tool_version=$ETCD_VERSION
    fetch go.etcd.io/etcd/server/v3 "$ETCD_VERSION" >/dev/null
    mod_edits=("-require=go.etcd.io/etcd/server/v3@$ETCD_VERSION")
}
verify_etcd() {
    local o
    o=$("$1" --version) || return 1
    grep -q "^etcd Version: ${ETCD_VERSION#v}\$" <<<"$o" || {
        echo "expected etcd Version: ${ETCD_VERSION#v}, got: $o"
        return 1
    }
    head -n1 <<<"$o"
}

# --- Kubernetes ----------------------------------------------------------------
prepare_kubernetes() {
    local gomod m p
    if [ "${2:-}" = ldflags ]; then
        # Both version packages when they exist (client-go's may go away).
        for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
            (cd "$1" && go list "$p" >/dev/null 2>&1) || continue
            ldflags+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor -X $p.gitTreeState=clean"
        done
        return
    fi
    tool_version=$KUBERNETES_VERSION
    gomod=$(fetch k8s.io/kubernetes "$KUBERNETES_VERSION")
    mod_edits=("-require=k8s.io/kubernetes@$KUBERNETES_VERSION")
    for m in $(v000_requires "$gomod"); do
        mod_edits+=("-replace=$m=$m@$k8s_staging_version")
    done
    [ "${#mod_edits[@]}" -gt 1 ] || die "k8s.io/kubernetes@$KUBERNETES_VERSION requires no staging module at v0.0.0: unexpected go.mod $gomod"
}
verify_kubernetes() {
    local o
    o=$("$1" --version) || return 1
    [ "$o" = "Kubernetes $KUBERNETES_VERSION" ] || {
        echo "expected 'Kubernetes $KUBERNETES_VERSION', got: $o"
        return 1
    }
    echo "$o"
}

# --- Pulumi ----------------------------------------------------------------------
prepare_pulumi() {
    local gomods=() r dup x
    if [ "${2:-}" = ldflags ]; then
        ldflags+=" -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
        return
    fi
    tool_version=$PULUMI_VERSION
    gomods+=("$(fetch github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION")")
    gomods+=("$(fetch github.com/pulumi/pulumi/sdk/v3 "$PULUMI_VERSION")")
    mod_edits=("-require=github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION"
        "-require=github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION")
    r=$(for f in "${gomods[@]}"; do module_replaces "$f"; done | LC_ALL=C sort -u)
    dup=$(printf '%s\n' "$r" | sed '/^$/d; s/=.*//' | uniq -d)
    [ -z "$dup" ] || die "pulumi: the go.mod files replace $dup in different ways: ${r//$'\n'/ }"
    for x in $r; do mod_edits+=("-replace=$x"); done
}
verify_pulumi() {
    local o
    o=$("$1" version) || return 1
    [ "$o" = "$PULUMI_VERSION" ] || {
        echo "expected $PULUMI_VERSION, got: $o"
        return 1
    }
    echo "$o"
}

# --- Kubernetes provider -------------------------------------------------------
pk_mod=github.com/pulumi/pulumi-kubernetes/provider/v4
pk_cmd=provider/cmd/pulumi-resource-kubernetes
# The module is copied into ./provider (writable) and required through a
# directory replace, so the two files main.go embeds can be generated next to
# it; the copy's own replace (sdk/v4 => ../sdk) does not apply to a dependency.
prepare_pulumi_kubernetes() {
    local gomod dir
    if [ "${2:-}" = ldflags ]; then
        # After go mod tidy: the module graph has pulumi/pkg/v3 for ./gen.
        (cd "$1" && go build -o gen.bin ./gen && cd "$pk_cmd" && rm -f schema-embed.json terraform-mapping-embed.json &&
            VERSION=$PULUMI_KUBERNETES_VERSION "$1/gen.bin" && rm -f "$1/gen.bin") >>"$1/build.log" 2>&1 ||
            die "pulumi-kubernetes: generating the embedded schema failed, see $1/build.log"
        ldflags+=" -X $pk_mod/pkg/version.Version=$PULUMI_KUBERNETES_VERSION"
        return
    fi
    tool_version="$PULUMI_KUBERNETES_PROVIDER_VERSION as $PULUMI_KUBERNETES_VERSION"
    gomod=$(fetch "$pk_mod" "$PULUMI_KUBERNETES_PROVIDER_VERSION")
    dir=$(go mod download -json "$pk_mod@$PULUMI_KUBERNETES_PROVIDER_VERSION" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
    [ -n "$dir" ] && [ -f "$dir/cmd/pulumi-resource-kubernetes/schema.json" ] ||
        die "pulumi-kubernetes: $pk_mod@$PULUMI_KUBERNETES_PROVIDER_VERSION has no cmd/pulumi-resource-kubernetes/schema.json (go.mod $gomod)"
    cp -R "$dir" "$1/provider"
    chmod -R u+w "$1/provider"
    # The module's own generator (build-ignored upstream), as a package of the wrapper module, so
    # that go mod tidy resolves its imports; it comes from the module cache, never from the repo.
    mkdir -p "$1/gen"
    sed '/^\/\/go:build ignore$/d; /^\/\/ +build ignore$/d' \
        "$1/$pk_cmd/generate.go" >"$1/gen/main.go"
    # Placeholders so go mod tidy can load the package; replaced after it.
    : >"$1/$pk_cmd/schema-embed.json"
    : >"$1/$pk_cmd/terraform-mapping-embed.json"
    mod_edits=("-require=$pk_mod@$PULUMI_KUBERNETES_PROVIDER_VERSION" "-replace=$pk_mod=./provider")
}
verify_pulumi_kubernetes() { verify_provider "$1"; }

# --- from source: what the module proxy refuses ------------------------------------
# build_from_source NAME DIGEST_INPUT TREE SUBDIR PREPARE VERIFY BINARY=PACKAGE...: copies
# TREE/SUBDIR (a Go module) into $cache/build/NAME-<hash>/src, lets PREPARE edit it and set
# `ldflags`, and builds it there with its own go.mod (missing go.sum lines are fetched).
build_from_source() {
    local name=$1 digest_input=$2 tree=$3 subdir=$4 prepare=$5 verify=$6
    shift 6
    local h dir work source
    h=$({
        echo "recipe=$RECIPE tool=$name go-min=$GO_MIN_VERSION"
        printf '%s\n' "$digest_input" "$@"
    } | sha)
    dir=$cache/build/$name-$h
    if [ "$force" = 0 ] && [ -f "$dir/complete" ]; then
        log "$name: reusing $dir"
    else
        work=$(new_work_dir "$name" "$h")
        cp -R "$tree/$subdir" "$work/src"
        chmod -R u+w "$work/src"
        source=$(cat "$tree/.edge-source")
        ldflags="-s -w"
        tool_version=""
        "$prepare" "$work/src"
        build_binaries "$work" "$work/src" "-mod=mod -buildvcs=false" "$verify" "$tool_version; $source" "$@"
        rm -rf "$work/src"
        rm -rf "$dir"
        mv "$work" "$dir"
        touch "$dir/complete"
    fi
    stage_unit "$dir" "$@"
}

# embed_schema DIR VERSION: what the provider's generate.go writes, schema-embed.json (its
# schema.json with the version set), for the version the npm SDK asks for.
embed_schema() {
    node -e '
        const fs = require("fs");
        const [dir, version] = process.argv.slice(1);
        const schema = JSON.parse(fs.readFileSync(`${dir}/schema.json`, "utf8"));
        schema.version = version;
        fs.writeFileSync(`${dir}/schema-embed.json`, JSON.stringify(schema));
    ' "$1" "$2" || die "writing $1/schema-embed.json failed (node is needed)"
}

pulumi_url=https://github.com/pulumi/pulumi
prepare_language_nodejs() {
    # Its go.mod replaces sdk/v3 and pkg/v3 with the tree's own folders, relative to the tree.
    (cd "$1" && go mod edit -replace "github.com/pulumi/pulumi/sdk/v3=$pulumi_tree/sdk" \
        -replace "github.com/pulumi/pulumi/pkg/v3=$pulumi_tree/pkg") ||
        die "pulumi-language-nodejs: go mod edit failed"
    tool_version="pulumi-language-nodejs $PULUMI_LANGUAGE_NODEJS_REPORTS"
    ldflags+=" -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_LANGUAGE_NODEJS_REPORTS"
}

rancher2_url=https://github.com/pulumi/pulumi-rancher2
tf_rancher2_url=https://github.com/rancher/terraform-provider-rancher2
prepare_rancher2() {
    tool_version="rancher2 $RANCHER2_PROVIDER_AS"
    (cd "$1" && go mod edit -replace "github.com/rancher/terraform-provider-rancher2=$tf_rancher2") ||
        die "rancher2: go mod edit failed"
    embed_schema "$1/cmd/pulumi-resource-rancher2" "$RANCHER2_PROVIDER_AS"
    ldflags+=" -X github.com/pulumi/pulumi-rancher2/provider/v12/pkg/version.Version=$RANCHER2_PROVIDER_AS"
}

tls_url=https://github.com/pulumi/pulumi-tls
prepare_tls() {
    local m=github.com/hashicorp/terraform-provider-tls
    tool_version="tls $TLS_PROVIDER_AS"
    (cd "$1" && go mod edit -replace "$m=$m@$TERRAFORM_PROVIDER_TLS_VERSION" &&
        cd shim && go mod edit -replace "$m=$m@$TERRAFORM_PROVIDER_TLS_VERSION") ||
        die "tls: go mod edit failed"
    embed_schema "$1/cmd/pulumi-resource-tls" "$TLS_PROVIDER_AS"
    ldflags+=" -X github.com/pulumi/pulumi-tls/provider/v5/pkg/version.Version=$TLS_PROVIDER_AS"
}

command_url=https://github.com/pulumi/pulumi-command
prepare_command() {
    tool_version="command ${COMMAND_PROVIDER_REF#v}"
    ldflags+=" -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=${COMMAND_PROVIDER_REF#v}"
}

# With no arguments a plugin (provider or language host) serves gRPC and prints its port.
verify_provider() {
    local o pid port tmp
    tmp=$(mktemp)
    "$1" >"$tmp" 2>&1 &
    pid=$!
    for _ in $(seq 50); do
        port=$(head -n1 "$tmp")
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    o=$(head -n3 "$tmp")
    rm -f "$tmp"
    [[ "$port" =~ ^[0-9]+$ ]] || {
        echo "expected a port on stdout with no arguments, got: $o"
        return 1
    }
    echo "serves on port $port; version $tool_version (ldflags)"
}

# --- build ---------------------------------------------------------------------
log "cache key $key (pins: e2e/versions.env, $gover)"
rm -rf "$cache/.$key."*
stage=$(mktemp -d "$cache/.$key.XXXXXX")
chmod 755 "$stage"
mkdir -p "$stage/bin"
printf 'binary\tversion\tbuild_seconds\tbytes\tversion_output\tgo\n' >"$stage/build-info.tsv"

build_tool etcd "ETCD_VERSION=$ETCD_VERSION" prepare_etcd verify_etcd \
    etcd=go.etcd.io/etcd/server/v3

kube_bins=(kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver)
[ "$KUBERNETES_CONTROLLER_MANAGER" = 1 ] &&
    kube_bins+=(kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager)
# The e2e binds KubeVirt's launcher pods to Nodes with the real scheduler.
kube_bins+=(kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler)
build_tool kubernetes "KUBERNETES_VERSION=$KUBERNETES_VERSION ${kube_bins[*]}" \
    prepare_kubernetes verify_kubernetes "${kube_bins[@]}"

build_tool pulumi "PULUMI_VERSION=$PULUMI_VERSION" prepare_pulumi verify_pulumi \
    pulumi=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

if [ -n "$PULUMI_KUBERNETES_PROVIDER_VERSION" ]; then
    build_tool pulumi-kubernetes \
        "PULUMI_KUBERNETES_PROVIDER_VERSION=$PULUMI_KUBERNETES_PROVIDER_VERSION PULUMI_KUBERNETES_VERSION=$PULUMI_KUBERNETES_VERSION" \
        prepare_pulumi_kubernetes verify_pulumi_kubernetes \
        pulumi-resource-kubernetes=$pk_mod/cmd/pulumi-resource-kubernetes
fi

if [ -n "$WIREGUARD_GO_VERSION" ]; then
    build_tool wireguard-go "WIREGUARD_GO_VERSION=$WIREGUARD_GO_VERSION" \
        prepare_wireguard_go verify_wireguard_go wireguard-go=.
fi

pulumi_tree=$(source_tree "$cache/src" pulumi "$PULUMI_SOURCE_REF" "$PULUMI_SOURCE_COMMIT" "$pulumi_url")
build_from_source pulumi-language-nodejs "$(grep -E '^PULUMI_(SOURCE|LANGUAGE)' <<<"$pins")" \
    "$pulumi_tree" sdk/nodejs/cmd/pulumi-language-nodejs prepare_language_nodejs verify_provider \
    pulumi-language-nodejs=.
# The tree's go.mod replaces sdk/v3 and pkg/v3 with its own folders (../../..).
[ -f "$pulumi_tree/sdk/go.mod" ] || die "pulumi: $pulumi_tree has no sdk/go.mod"

tf_rancher2=$(source_tree "$cache/src" terraform-provider-rancher2 "$TERRAFORM_PROVIDER_RANCHER2_REF" \
    "$TERRAFORM_PROVIDER_RANCHER2_COMMIT" "$tf_rancher2_url")
build_from_source rancher2 "$(grep -E '^(TERRAFORM_PROVIDER_)?RANCHER2_' <<<"$pins")" \
    "$(source_tree "$cache/src" pulumi-rancher2 "$RANCHER2_PROVIDER_REF" "$RANCHER2_PROVIDER_COMMIT" "$rancher2_url")" \
    provider prepare_rancher2 verify_provider pulumi-resource-rancher2=./cmd/pulumi-resource-rancher2

build_from_source tls "$(grep -E '^(TERRAFORM_PROVIDER_)?TLS_' <<<"$pins")" \
    "$(source_tree "$cache/src" pulumi-tls "$TLS_PROVIDER_REF" "$TLS_PROVIDER_COMMIT" "$tls_url")" \
    provider prepare_tls verify_provider pulumi-resource-tls=./cmd/pulumi-resource-tls

build_from_source command "$(grep -E '^COMMAND_' <<<"$pins")" \
    "$(source_tree "$cache/src" pulumi-command "$COMMAND_PROVIDER_REF" "$COMMAND_PROVIDER_COMMIT" "$command_url")" \
    provider prepare_command verify_provider pulumi-resource-command=./cmd/pulumi-resource-command

printf '%s' "$pins" >"$stage/versions.env"
rm -rf "$out"
mv "$stage" "$out"
touch "$out/complete"
column -t -s $'\t' "$out/build-info.tsv" >&2 2>/dev/null || cat "$out/build-info.tsv" >&2
echo "$bin"
