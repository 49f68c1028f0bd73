//go:build edge_kubevirt_1_9

package main

import (
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/tools/cache"

	v1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubecli"

	"kubevirt.io/kubevirt/pkg/hooks"
	"kubevirt.io/kubevirt/pkg/hypervisor"
	"kubevirt.io/kubevirt/pkg/network/netbinding"
	netannotations "kubevirt.io/kubevirt/pkg/network/pod/annotations"
	netresources "kubevirt.io/kubevirt/pkg/network/resources"
	storageannotations "kubevirt.io/kubevirt/pkg/storage/pod/annotations"
	virtconfig "kubevirt.io/kubevirt/pkg/virt-config"
	"kubevirt.io/kubevirt/pkg/virt-controller/services"
)

// newTemplateService is virt-controller's (pkg/virt-controller/watch/application.go), with the
// default image and directories of its flags.
func newTemplateService(clusterConfig *virtconfig.ClusterConfig, pvcStore cache.Store, client kubecli.KubevirtClient, resourceQuotaStore, namespaceStore cache.Store) *services.TemplateService {
	netAnnotationsGenerator := netannotations.NewGenerator(clusterConfig)
	return services.NewTemplateService(launcherImage, launcherQemuTimeout, virtShareDir, ephemeralDiskDir,
		containerDiskDir, v1.HotplugDiskDir, "", pvcStore, client, clusterConfig, launcherSubGid,
		exporterImage, resourceQuotaStore, namespaceStore,
		services.WithSidecarCreator(
			func(vmi *v1.VirtualMachineInstance, _ *v1.KubeVirtConfiguration) (hooks.HookSidecarList, error) {
				return hooks.UnmarshalHookSidecarList(vmi)
			}),
		services.WithSidecarCreator(netbinding.NetBindingPluginSidecarList),
		services.WithNetMemoryCalculator(netresources.MemoryCalculator{}),
		services.WithAnnotationsGenerators(netAnnotationsGenerator, storageannotations.Generator{}),
		services.WithNetTargetAnnotationsGenerator(netAnnotationsGenerator),
	)
}

// memoryOverhead is what RenderLaunchManifest adds to the guest's memory (template.go).
func memoryOverhead(clusterConfig *virtconfig.ClusterConfig, vmi *v1.VirtualMachineInstance) resource.Quantity {
	return services.CalculateMemoryOverhead(clusterConfig, netresources.MemoryCalculator{}, vmi,
		hypervisor.NewLauncherHypervisorResources(clusterConfig.GetHypervisor().Name))
}
