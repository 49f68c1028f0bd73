// Command setup prints CDI's CRDs as CDI installs them, as a JSON List: the CDI CRD of its
// operator's manifests (pkg/operator/resources/operator, NewCdiCrd) and those its operator
// creates (pkg/operator/resources/cluster, factory.go: the "crd-resources" group), all decoded
// from crds_generated.go:
//
//	setup crds
//
// It is compiled inside the CDI tree (scripts/kubevirt-tools.sh copies it to <tree>/edge/setup)
// so vendor/ serves it.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"kubevirt.io/containerized-data-importer/pkg/operator/resources/cluster"
	"kubevirt.io/containerized-data-importer/pkg/operator/resources/operator"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] != "crds" {
		fmt.Fprintln(os.Stderr, "usage: setup crds")
		os.Exit(2)
	}
	crds, err := cluster.CreateStaticResourceGroup("crd-resources", &cluster.FactoryArgs{Namespace: "cdi"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup: "+err.Error())
		os.Exit(1)
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	// virt-controller watches the CDI resource once DataVolumes exist.
	items := append([]client.Object{operator.NewCdiCrd()}, crds...)
	out := map[string]interface{}{"apiVersion": "v1", "kind": "List", "items": items}
	if err := encoder.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "setup: "+err.Error())
		os.Exit(1)
	}
}
