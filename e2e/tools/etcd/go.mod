// Wrapper module for etcd. scripts/e2e-tools.sh copies it into its build
// cache and adds the requirement from e2e/versions.env (ETCD_VERSION).
module edge-e2e/tools/etcd

go 1.26
