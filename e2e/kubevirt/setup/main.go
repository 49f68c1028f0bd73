// Command setup prints what virt-operator would install for the e2e control plane, from
// KubeVirt's own generator (pkg/virt-operator/resource/generate/install, strategy.go
// GenerateCurrentInstallStrategy), as a JSON List on stdout:
//
//	setup crds [--kubevirt FILE]      (the KubeVirt CRD as well)
//	setup rbac [--kubevirt FILE]
//	setup webhooks --url https://127.0.0.1:PORT --ca-bundle FILE [--kubevirt FILE]
//
// FILE is the KubeVirt CR (JSON) the e2e applies; its namespace and feature gates select what
// the generator emits, as they do for virt-operator. It is compiled inside the KubeVirt tree
// (scripts/kubevirt-tools.sh copies it to <tree>/edge/setup) so vendor/ serves it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v1 "kubevirt.io/api/core/v1"

	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/install"
	operatorutil "kubevirt.io/kubevirt/pkg/virt-operator/util"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: setup crds|rbac|webhooks [flags]")
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	kubevirtFile := flags.String("kubevirt", "", "the KubeVirt CR as JSON (default: an empty one in namespace kubevirt)")
	url := flags.String("url", "", "webhooks: virt-api's base URL, replacing the virt-api Service")
	caBundle := flags.String("ca-bundle", "", "webhooks: PEM file of the CA that signed virt-api's serving certificate")
	if err := flags.Parse(os.Args[2:]); err != nil {
		fail(err.Error())
	}

	kv := &v1.KubeVirt{}
	kv.Namespace = "kubevirt"
	kv.Name = "kubevirt"
	if *kubevirtFile != "" {
		data, err := os.ReadFile(*kubevirtFile)
		if err != nil {
			fail(err.Error())
		}
		if err := json.Unmarshal(data, kv); err != nil {
			fail(fmt.Sprintf("%s: %v", *kubevirtFile, err))
		}
	}
	config := operatorutil.GetTargetConfigFromKV(kv)
	// No monitoring namespace: no ServiceMonitor or PrometheusRule, as on a cluster without one.
	strategy, err := install.GenerateCurrentInstallStrategy(config, "", kv.Namespace)
	if err != nil {
		fail(err.Error())
	}

	var items []runtime.Object
	switch os.Args[1] {
	case "crds":
		// The KubeVirt CRD itself comes with virt-operator's manifests, not its strategy
		// (tools/resource-generator, -type kv).
		kubevirtCrd, err := components.NewKubeVirtCrd()
		if err != nil {
			fail(err.Error())
		}
		items = append(items, kubevirtCrd)
		for _, crd := range strategy.CRDs() {
			items = append(items, crd)
		}
	case "rbac":
		for _, sa := range strategy.ServiceAccounts() {
			items = append(items, sa)
		}
		for _, role := range strategy.ClusterRoles() {
			items = append(items, role)
		}
		for _, binding := range strategy.ClusterRoleBindings() {
			items = append(items, binding)
		}
		for _, role := range strategy.Roles() {
			items = append(items, role)
		}
		for _, binding := range strategy.RoleBindings() {
			items = append(items, binding)
		}
	case "webhooks":
		if *url == "" || *caBundle == "" {
			fail("webhooks needs --url and --ca-bundle")
		}
		ca, err := os.ReadFile(*caBundle)
		if err != nil {
			fail(err.Error())
		}
		// Only virt-api's: virt-operator's own validator (kubevirt-validator) is served by
		// virt-operator, which the e2e does not run, and virt-operator registers the
		// virt-launcher pod mutator only with the ContainerPathVolumes gate
		// (pkg/virt-operator/resource/apply/admissionregistration.go).
		for _, webhooks := range strategy.MutatingWebhookConfigurations() {
			if webhooks.Name != components.VirtAPIMutatingWebhookName {
				continue
			}
			for i := range webhooks.Webhooks {
				webhooks.Webhooks[i].ClientConfig = toURL(webhooks.Webhooks[i].ClientConfig, *url, ca)
			}
			items = append(items, webhooks)
		}
		for _, webhooks := range strategy.ValidatingWebhookConfigurations() {
			if webhooks.Name != components.VirtAPIValidatingWebhookName {
				continue
			}
			for i := range webhooks.Webhooks {
				webhooks.Webhooks[i].ClientConfig = toURL(webhooks.Webhooks[i].ClientConfig, *url, ca)
			}
			items = append(items, webhooks)
		}
	default:
		fail("unknown subcommand " + os.Args[1])
	}
	out := map[string]interface{}{"apiVersion": "v1", "kind": "List", "items": items}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(out); err != nil {
		fail(err.Error())
	}
}

// toURL points a webhook at virt-api on loopback instead of its Service, same path.
func toURL(config admissionregistrationv1.WebhookClientConfig, base string, ca []byte) admissionregistrationv1.WebhookClientConfig {
	if config.Service == nil || config.Service.Name != components.VirtApiServiceName {
		fail(fmt.Sprintf("webhook client config is not virt-api's Service: %+v", config))
	}
	path := ""
	if config.Service.Path != nil {
		path = *config.Service.Path
	}
	url := strings.TrimSuffix(base, "/") + path
	return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "setup: "+message)
	os.Exit(2)
}
