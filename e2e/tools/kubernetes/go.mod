// Wrapper module for Kubernetes' control-plane binaries. scripts/e2e-tools.sh
// copies it into its build cache, requires k8s.io/kubernetes at
// KUBERNETES_VERSION (e2e/versions.env) and replaces each staging module that
// k8s.io/kubernetes requires at v0.0.0 with the matching v0.<minor>.<patch>.
module edge-e2e/tools/kubernetes

go 1.26

tool (
	k8s.io/kubernetes/cmd/kube-apiserver
	k8s.io/kubernetes/cmd/kube-controller-manager
)
