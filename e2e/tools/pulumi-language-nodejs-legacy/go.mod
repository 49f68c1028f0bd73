// Fallback Node.js language host. Up to sdk/v3 v3.68.0 the host was a package
// of the github.com/pulumi/pulumi/sdk/v3 module; later it is a module of its
// own that the module proxy here does not serve. scripts/e2e-tools.sh copies
// this into its build cache, requires sdk/v3 at
// PULUMI_LANGUAGE_NODEJS_LEGACY_SDK_VERSION (e2e/versions.env) and copies the
// non-directory replace directives of its go.mod.
module edge-e2e/tools/pulumi-language-nodejs-legacy

go 1.26

tool github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
