// Wrapper module for a userspace WireGuard. scripts/e2e-tools.sh copies it into
// its build cache and adds the requirement from e2e/versions.env
// (WIREGUARD_GO_VERSION).
module edge-e2e/tools/wireguard-go

go 1.26
