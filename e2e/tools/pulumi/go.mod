// Wrapper module for the Pulumi CLI. scripts/e2e-tools.sh copies it into its
// build cache, requires github.com/pulumi/pulumi/pkg/v3 and sdk/v3 at
// PULUMI_VERSION (e2e/versions.env) and copies the non-directory replace
// directives of their go.mod files (and of the Node.js language host's module
// when PULUMI_LANGUAGE_NODEJS_VERSION is set, which adds it as a tool).
module edge-e2e/tools/pulumi

go 1.26

tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
