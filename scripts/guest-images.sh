#!/usr/bin/env bash
# Builds the guest images the booted-guest suite (npm run e2e:guest) boots, from
# Debian's archive with mmdebstrap, into a cache outside the repository:
#
#   ${EDGE_E2E_CACHE:-$HOME/.cache/edge-e2e}/guest-<key>/<image>/
#       vmlinuz  initrd.img  root.img (raw ext4)  packages.tsv
#
# where <key> covers the GUEST_ pins of e2e/versions.env and this script. One
# image per renderer family our nodes support (lib/config: guestRenderers):
#
#   netplan-12   Debian 12: cloud-init, netplan with systemd-networkd and
#                systemd-resolved, as Debian's and Ubuntu's cloud images
#   netplan-13   the same on Debian 13 (a newer cloud-init and netplan)
#   nm-13        Debian 13 with NetworkManager as cloud-init's renderer, for
#                the EL 9 family (no EL archive is reachable here)
#
# Each also has what cloud images have and the suite reads through: sudo,
# curl, ca-certificates, openssh-server, qemu-guest-agent, wireguard-tools and
# iptables (installed, so that a gateway's `packages` needs no archive). A
# second run with the same inputs reuses the images. Prints the cache directory
# as the last line of stdout; progress goes to stderr. Needs root (mmdebstrap
# into a directory, mkfs.ext4 -d).
#
#   scripts/guest-images.sh           build what is missing
#   scripts/guest-images.sh --force   rebuild every image
set -euo pipefail

tool=guest-images
help_lines=2,25
# shellcheck source=scripts/tools-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools-common.sh"
read_pins "^GUEST_"
for k in GUEST_MIRROR GUEST_SUITE_12 GUEST_SUITE_13; do
    [ -n "${!k:-}" ] || die "e2e/versions.env: $k is not set"
done
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap into a directory, mkfs.ext4 -d)"
for c in mmdebstrap mkfs.ext4; do
    command -v "$c" >/dev/null || die "$c is not installed (.ci/run installs it)"
done

key=$({
    echo "$pins"
    cat "$0"
} | sha)
cache=${EDGE_E2E_CACHE:-$HOME/.cache/edge-e2e}
out=$cache/guest-$key
mkdir -p "$cache"
if lock_cache "$cache/guest-$key.lock"; then
    echo "$out"
    exit 0
fi

common=linux-image-cloud-amd64,initramfs-tools,systemd-sysv,udev,dbus,kmod,iproute2,iputils-ping
common+=,cloud-init,cloud-guest-utils,e2fsprogs,locales,sudo,curl,ca-certificates,openssh-server,qemu-guest-agent,wireguard-tools,iptables
netplan=netplan.io,systemd-resolved
nm=network-manager

# The root being built, removed however the script ends.
root=
trap '[ -z "$root" ] || rm -rf "$root"' EXIT

# build IMAGE SUITE PACKAGES [CLOUD_CFG]: one image; CLOUD_CFG, when given, goes into
# /etc/cloud/cloud.cfg.d/90-edge-image.cfg.
build() {
    local image=$1 suite=$2 packages=$3 cloud_cfg=${4:-}
    local dir=$out/$image
    if [ "$force" = 0 ] && [ -f "$dir/complete" ]; then
        log "$image: cached"
        return
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    root=$(mktemp -d "$cache/guest-root.XXXXXX")
    local start=$SECONDS
    log "$image: mmdebstrap $suite"
    mmdebstrap --variant=apt --include="$common,$packages" "$suite" "$root" "$GUEST_MIRROR" >&2
    # Cloud images have the locale cloud-init's cc_locale sets (22.4: en_US.UTF-8), generated;
    # Debian's locale-gen only generates what /etc/locale.gen enables.
    sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$root/etc/locale.gen"
    chroot "$root" locale-gen >&2
    # cloud-init names the host; the build machine's name must not leak in.
    rm -f "$root/etc/hostname"
    if [ -n "$cloud_cfg" ]; then
        printf '%s\n' "$cloud_cfg" >"$root/etc/cloud/cloud.cfg.d/90-edge-image.cfg"
    fi
    chroot "$root" dpkg-query -W -f '${Package}\t${Version}\n' >"$dir/packages.tsv"
    cp "$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)" "$dir/vmlinuz"
    cp "$(ls "$root"/boot/initrd.img-* | sort -V | tail -1)" "$dir/initrd.img"
    mkfs.ext4 -q -L root -d "$root" "$dir/root.img" 4G
    rm -rf "$root"
    root=
    touch "$dir/complete"
    log "$image: $(human_size "$(du -B1 -s "$dir" | cut -f1)") on disk in $((SECONDS - start)) s"
}

build netplan-12 "$GUEST_SUITE_12" "$netplan"
build netplan-13 "$GUEST_SUITE_13" "$netplan"
build nm-13 "$GUEST_SUITE_13" "$nm" \
    'system_info: {network: {renderers: [network-manager], activators: [network-manager]}}'
touch "$out/complete"
# One generation of images: the older ones are over a gigabyte each.
for old in "$cache"/guest-*; do
    [ "$old" = "$out" ] || [ "$old" = "$out.lock" ] || rm -rf "$old"
done
echo "$out"
