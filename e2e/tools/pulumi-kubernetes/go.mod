// Wrapper module for the Kubernetes resource provider. scripts/e2e-tools.sh
// copies it into its build cache together with a writable copy of
// github.com/pulumi/pulumi-kubernetes/provider/v4 at
// PULUMI_KUBERNETES_PROVIDER_VERSION (e2e/versions.env) in ./provider, requires
// that module replaced by ./provider, generates the two files main.go embeds
// (schema-embed.json, terraform-mapping-embed.json; not in the module zip) with
// the module's own cmd/pulumi-resource-kubernetes/generate.go, copied from the
// module cache into ./gen, with VERSION=PULUMI_KUBERNETES_VERSION, and builds
// the tool.
module edge-e2e/tools/pulumi-kubernetes

go 1.26

tool github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes
