// edge-kubevirt-check runs KubeVirt's own admission and rendering code, in process, on the
// VirtualMachines a plan emits, and prints what KubeVirt decides about each: the VM mutating and
// validating webhooks (virt-api), the VMI virt-controller creates from the stored VM
// (SetupVMIFromVM and the steps of startVMI in pkg/virt-controller/watch/vm/vm.go), the VMI
// mutating webhook and create admitter, the launcher's memory overhead and the launcher pod of
// TemplateService.RenderLaunchManifest (pkg/virt-controller/services/template.go), with the
// scheduler's view of the pod's requests.
//
// Built inside a KubeVirt tree by scripts/kubevirt-tools.sh (so its vendor/ serves it); what differs
// between versions lives in version_*.go, selected by the build tag edge_kubevirt_<major>_<minor>.
//
// Input (stdin), JSON:
//
//	{"kubevirtNamespace": "kubevirt",            // where KubeVirt runs (its service accounts)
//	 "user": "edge-operator",                    // who creates the VMs
//	 "configuration": {...},                     // the KubeVirt CR's spec.configuration
//	 "nads": [NetworkAttachmentDefinition...],   // the site's, for Multus lookups
//	 "vms": [VirtualMachine...]}
//
// Output (stdout), JSON: {"kubevirtVersion", "kubevirtCommit", "results": [one per VM, in order]};
// see the result type. The exit status is 0 whatever KubeVirt decided; 2 on unusable input.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.uber.org/mock/gomock"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	k8sv1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	k8sfield "k8s.io/apimachinery/pkg/util/validation/field"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	networkv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	v1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubecli"
	"kubevirt.io/client-go/log"
	fakenetworkclient "kubevirt.io/client-go/networkattachmentdefinitionclient/fake"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	netadmitter "kubevirt.io/kubevirt/pkg/network/admitter"
	netvmispec "kubevirt.io/kubevirt/pkg/network/vmispec"
	"kubevirt.io/kubevirt/pkg/testutils"
	"kubevirt.io/kubevirt/pkg/virt-api/webhooks"
	"kubevirt.io/kubevirt/pkg/virt-api/webhooks/mutating-webhook/mutators"
	"kubevirt.io/kubevirt/pkg/virt-api/webhooks/validating-webhook/admitters"
	virtconfig "kubevirt.io/kubevirt/pkg/virt-config"
	vmcontroller "kubevirt.io/kubevirt/pkg/virt-controller/watch/vm"
)

// Set by scripts/kubevirt-tools.sh (-X).
var edgeVersion, edgeCommit string

type input struct {
	KubevirtNamespace string                                  `json:"kubevirtNamespace"`
	User              string                                  `json:"user"`
	Configuration     v1.KubeVirtConfiguration                `json:"configuration"`
	NADs              []networkv1.NetworkAttachmentDefinition `json:"nads"`
	VMs               []json.RawMessage                       `json:"vms"`
}

// admission is one webhook's answer.
type admission struct {
	Allowed  bool     `json:"allowed"`
	Code     int32    `json:"code,omitempty"`
	Message  string   `json:"message,omitempty"`
	Warnings []string `json:"warnings"`
	// The JSON patch a mutating webhook returned.
	Patch json.RawMessage `json:"patch,omitempty"`
}

type containerResources struct {
	Name string `json:"name"`
	// "container", "init" or "sidecar" (an init container with restartPolicy Always).
	Kind     string            `json:"kind"`
	Requests map[string]string `json:"requests"`
	Limits   map[string]string `json:"limits"`
}

type launcherPod struct {
	Containers   []containerResources `json:"containers"`
	NodeSelector map[string]string    `json:"nodeSelector"`
	// What the scheduler counts (k8s.io/component-helpers/resource PodRequests): the containers and
	// sidecars summed, or the largest init container with the sidecars started before it, whichever
	// is more, per resource.
	Requests    map[string]string `json:"requests"`
	CPUMillis   int64             `json:"cpuMillis"`
	MemoryBytes int64             `json:"memoryBytes"`
}

type result struct {
	Namespace    string     `json:"namespace"`
	Name         string     `json:"name"`
	VMMutation   *admission `json:"vmMutation,omitempty"`
	VMValidation *admission `json:"vmValidation,omitempty"`
	// What virt-controller's own create validation of the VMI says (startVMI).
	VMISetup      []string   `json:"vmiSetup"`
	VMIMutation   *admission `json:"vmiMutation,omitempty"`
	VMIValidation *admission `json:"vmiValidation,omitempty"`
	// The VMI as stored after its mutating webhook: spec.domain, as the launcher is rendered from.
	VMIDomain *v1.DomainSpec `json:"vmiDomain,omitempty"`
	// CalculateMemoryOverhead (GetMemoryOverhead and the network binding's share).
	MemoryOverhead      string       `json:"memoryOverhead,omitempty"`
	MemoryOverheadBytes int64        `json:"memoryOverheadBytes,omitempty"`
	Pod                 *launcherPod `json:"pod,omitempty"`
	// Calls to the API client KubeVirt made, as "Method(args)", and any error that stopped the run.
	ClientCalls []string `json:"clientCalls"`
	Error       string   `json:"error,omitempty"`
}

type output struct {
	KubevirtVersion string   `json:"kubevirtVersion"`
	KubevirtCommit  string   `json:"kubevirtCommit"`
	Results         []result `json:"results"`
}

// stop is what the gomock reporter panics with on an unexpected call; run recovers it.
type stop struct{ message string }

type reporter struct{}

func (reporter) Errorf(format string, args ...any) { panic(stop{fmt.Sprintf(format, args...)}) }
func (reporter) Fatalf(format string, args ...any) { panic(stop{fmt.Sprintf(format, args...)}) }

var (
	vmResource  = metav1.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}
	vmiResource = metav1.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachineinstances"}
	nadResource = schema.GroupVersionResource{Group: "k8s.cni.cncf.io", Version: "v1", Resource: "network-attachment-definitions"}
)

func review(resource metav1.GroupVersionResource, kind string, user, namespace, name string, raw []byte) *admissionv1.AdmissionReview {
	return &admissionv1.AdmissionReview{
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID("edge-" + kind + "-" + namespace + "-" + name),
			Kind:      metav1.GroupVersionKind{Group: resource.Group, Version: resource.Version, Kind: kind},
			Resource:  resource,
			Namespace: namespace,
			Name:      name,
			Operation: admissionv1.Create,
			UserInfo:  authenticationv1.UserInfo{Username: user, Groups: []string{"system:authenticated"}},
			Object:    runtime.RawExtension{Raw: raw},
		},
	}
}

func answer(r *admissionv1.AdmissionResponse) *admission {
	a := &admission{Allowed: r.Allowed, Warnings: r.Warnings, Patch: r.Patch}
	if a.Warnings == nil {
		a.Warnings = []string{}
	}
	if r.Result != nil {
		a.Code = r.Result.Code
		a.Message = r.Result.Message
	}
	return a
}

// patched applies a mutating webhook's JSON patch to raw.
func patched(raw []byte, r *admissionv1.AdmissionResponse) ([]byte, error) {
	if len(r.Patch) == 0 {
		return raw, nil
	}
	p, err := jsonpatch.DecodePatch(r.Patch)
	if err != nil {
		return nil, fmt.Errorf("decoding the webhook's patch: %v", err)
	}
	return p.Apply(raw)
}

func quantities(list k8sv1.ResourceList) map[string]string {
	out := map[string]string{}
	for name, q := range list {
		out[string(name)] = q.String()
	}
	return out
}

// podRequests is the scheduler's sum (k8s.io/component-helpers/resource PodRequests, no overhead).
func podRequests(pod *k8sv1.Pod) k8sv1.ResourceList {
	reqs := k8sv1.ResourceList{}
	add := func(into k8sv1.ResourceList, list k8sv1.ResourceList) {
		for name, q := range list {
			sum := into[name]
			sum.Add(q)
			into[name] = sum
		}
	}
	for _, c := range pod.Spec.Containers {
		add(reqs, c.Resources.Requests)
	}
	sidecars := k8sv1.ResourceList{}
	initReqs := k8sv1.ResourceList{}
	for _, c := range pod.Spec.InitContainers {
		containerReqs := k8sv1.ResourceList{}
		if c.RestartPolicy != nil && *c.RestartPolicy == k8sv1.ContainerRestartPolicyAlways {
			add(reqs, c.Resources.Requests)
			add(sidecars, c.Resources.Requests)
			add(containerReqs, sidecars)
		} else {
			add(containerReqs, c.Resources.Requests)
			add(containerReqs, sidecars)
		}
		for name, q := range containerReqs {
			if cur, ok := initReqs[name]; !ok || q.Cmp(cur) > 0 {
				initReqs[name] = q
			}
		}
	}
	for name, q := range initReqs {
		if cur, ok := reqs[name]; !ok || q.Cmp(cur) > 0 {
			reqs[name] = q
		}
	}
	return reqs
}

func describePod(pod *k8sv1.Pod) *launcherPod {
	out := &launcherPod{NodeSelector: pod.Spec.NodeSelector, Containers: []containerResources{}}
	if out.NodeSelector == nil {
		out.NodeSelector = map[string]string{}
	}
	for _, c := range pod.Spec.InitContainers {
		kind := "init"
		if c.RestartPolicy != nil && *c.RestartPolicy == k8sv1.ContainerRestartPolicyAlways {
			kind = "sidecar"
		}
		out.Containers = append(out.Containers, containerResources{c.Name, kind, quantities(c.Resources.Requests), quantities(c.Resources.Limits)})
	}
	for _, c := range pod.Spec.Containers {
		out.Containers = append(out.Containers, containerResources{c.Name, "container", quantities(c.Resources.Requests), quantities(c.Resources.Limits)})
	}
	reqs := podRequests(pod)
	out.Requests = quantities(reqs)
	cpu, memory := reqs[k8sv1.ResourceCPU], reqs[k8sv1.ResourceMemory]
	out.CPUMillis = cpu.MilliValue()
	out.MemoryBytes = memory.Value()
	return out
}

// env is what one run shares: the cluster config, the fake client and stores.
type env struct {
	in                *input
	clusterConfig     *virtconfig.ClusterConfig
	serviceAccounts   map[string]struct{}
	controllerAccount string
	informers         *webhooks.Informers
	pvcStore          cache.Store
	calls             *[]string
}

// newClient is a KubevirtClient whose network client knows the site's NADs and whose core client
// is an empty fake; every call is recorded, and any other method stops the VM's run.
func (e *env) newClient() kubecli.KubevirtClient {
	ctrl := gomock.NewController(reporter{})
	client := kubecli.NewMockKubevirtClient(ctrl)
	networkClient := fakenetworkclient.NewSimpleClientset()
	for i := range e.in.NADs {
		nad := e.in.NADs[i]
		if err := networkClient.Tracker().Create(nadResource, &nad, nad.Namespace); err != nil {
			panic(err)
		}
	}
	k8sClient := k8sfake.NewSimpleClientset()
	client.EXPECT().NetworkClient().DoAndReturn(func() any {
		*e.calls = append(*e.calls, "NetworkClient()")
		return networkClient
	}).AnyTimes()
	client.EXPECT().CoreV1().DoAndReturn(func() any {
		*e.calls = append(*e.calls, "CoreV1()")
		return k8sClient.CoreV1()
	}).AnyTimes()
	return client
}

func (e *env) run(raw []byte) (res result) {
	res.VMISetup = []string{}
	res.ClientCalls = []string{}
	calls := []string{}
	e.calls = &calls
	defer func() {
		res.ClientCalls = append(res.ClientCalls, calls...)
		if r := recover(); r != nil {
			if s, ok := r.(stop); ok {
				res.Error = "unexpected API client call: " + s.message
				return
			}
			res.Error = fmt.Sprint("panic: ", r)
		}
	}()
	vm := &v1.VirtualMachine{}
	if err := json.Unmarshal(raw, vm); err != nil {
		res.Error = "not a VirtualMachine: " + err.Error()
		return
	}
	res.Namespace, res.Name = vm.Namespace, vm.Name
	client := e.newClient()

	// virt-api: the VM's mutating then validating webhook, as the API server calls them.
	vmMutation := mutators.NewVMsMutator(e.clusterConfig, client).Mutate(review(vmResource, "VirtualMachine", e.in.User, vm.Namespace, vm.Name, raw))
	res.VMMutation = answer(vmMutation)
	if !vmMutation.Allowed {
		return
	}
	stored, err := patched(raw, vmMutation)
	if err != nil {
		res.Error = err.Error()
		return
	}
	vmValidation := admitters.NewVMsAdmitter(e.clusterConfig, client, e.informers, e.serviceAccounts).Admit(context.Background(), review(vmResource, "VirtualMachine", e.in.User, vm.Namespace, vm.Name, stored))
	res.VMValidation = answer(vmValidation)
	if !vmValidation.Allowed {
		return
	}

	// virt-controller: the VMI it creates from the stored VM (vm.go startVMI; no instancetype,
	// preference or changed block tracking here).
	storedVM := &v1.VirtualMachine{}
	if err := json.Unmarshal(stored, storedVM); err != nil {
		res.Error = err.Error()
		return
	}
	vmi := vmcontroller.SetupVMIFromVM(storedVM)
	vmi.Finalizers = append(vmi.Finalizers, v1.VirtualMachineControllerFinalizer)
	vmcontroller.AutoAttachInputDevice(vmi)
	if err := netvmispec.SetDefaultNetworkInterface(e.clusterConfig, &vmi.Spec); err != nil {
		res.VMISetup = append(res.VMISetup, err.Error())
		return
	}
	for _, cause := range netadmitter.NewValidator(k8sfield.NewPath("spec"), &vmi.Spec, e.clusterConfig).ValidateCreation() {
		res.VMISetup = append(res.VMISetup, cause.String())
	}
	if len(res.VMISetup) > 0 {
		return
	}
	vmiRaw, err := json.Marshal(vmi)
	if err != nil {
		res.Error = err.Error()
		return
	}
	vmiMutation := (&mutators.VMIsMutator{
		ClusterConfig:           e.clusterConfig,
		VMIPresetInformer:       e.informers.VMIPresetInformer,
		KubeVirtServiceAccounts: e.serviceAccounts,
	}).Mutate(review(vmiResource, "VirtualMachineInstance", e.controllerAccount, vmi.Namespace, vmi.Name, vmiRaw))
	res.VMIMutation = answer(vmiMutation)
	if !vmiMutation.Allowed {
		return
	}
	vmiStored, err := patched(vmiRaw, vmiMutation)
	if err != nil {
		res.Error = err.Error()
		return
	}
	vmiValidation := (&admitters.VMICreateAdmitter{
		ClusterConfig:           e.clusterConfig,
		KubeVirtServiceAccounts: e.serviceAccounts,
		// virt-api's own spec validator (pkg/virt-api/api.go).
		SpecValidators: []admitters.SpecValidator{
			func(field *k8sfield.Path, spec *v1.VirtualMachineInstanceSpec, cfg *virtconfig.ClusterConfig) []metav1.StatusCause {
				return netadmitter.Validate(field, spec, cfg)
			},
		},
	}).Admit(context.Background(), review(vmiResource, "VirtualMachineInstance", e.controllerAccount, vmi.Namespace, vmi.Name, vmiStored))
	res.VMIValidation = answer(vmiValidation)
	if !vmiValidation.Allowed {
		return
	}
	final := &v1.VirtualMachineInstance{}
	if err := json.Unmarshal(vmiStored, final); err != nil {
		res.Error = err.Error()
		return
	}
	final.UID = types.UID("00000000-0000-0000-0000-000000000000")
	res.VMIDomain = &final.Spec.Domain

	overhead := memoryOverhead(e.clusterConfig, final)
	res.MemoryOverhead = overhead.String()
	res.MemoryOverheadBytes = overhead.Value()

	for _, volume := range final.Spec.Volumes {
		claim := ""
		if volume.DataVolume != nil {
			claim = volume.DataVolume.Name
		} else if volume.PersistentVolumeClaim != nil {
			claim = volume.PersistentVolumeClaim.ClaimName
		}
		if claim != "" {
			// What CDI's clone leaves: a filesystem PVC of the DataVolume's name.
			mode := k8sv1.PersistentVolumeFilesystem
			_ = e.pvcStore.Add(&k8sv1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Namespace: final.Namespace, Name: claim},
				Spec: k8sv1.PersistentVolumeClaimSpec{
					AccessModes: []k8sv1.PersistentVolumeAccessMode{k8sv1.ReadWriteOnce},
					VolumeMode:  &mode,
				},
				Status: k8sv1.PersistentVolumeClaimStatus{Phase: k8sv1.ClaimBound},
			})
		}
	}
	templateService := newTemplateService(e.clusterConfig, e.pvcStore, client, cache.NewStore(cache.MetaNamespaceKeyFunc), cache.NewStore(cache.MetaNamespaceKeyFunc))
	pod, err := templateService.RenderLaunchManifest(final)
	if err != nil {
		res.Error = "RenderLaunchManifest: " + err.Error()
		return
	}
	res.Pod = describePod(pod)
	return
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Printf("kubevirt %s %s\n", edgeVersion, edgeCommit)
		return
	}
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: edge-kubevirt-check [--version] <input.json >output.json")
		os.Exit(2)
	}
	log.Log.SetIOWriter(io.Discard)
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "edge-kubevirt-check:", err)
		os.Exit(2)
	}
	in := &input{}
	if err := json.Unmarshal(data, in); err != nil {
		fmt.Fprintln(os.Stderr, "edge-kubevirt-check: input:", err)
		os.Exit(2)
	}
	if in.KubevirtNamespace == "" {
		in.KubevirtNamespace = "kubevirt"
	}
	if in.User == "" {
		in.User = "edge-operator"
	}
	kv := &v1.KubeVirt{
		ObjectMeta: metav1.ObjectMeta{Name: "kubevirt", Namespace: in.KubevirtNamespace},
		Spec:       v1.KubeVirtSpec{Configuration: in.Configuration},
		Status:     v1.KubeVirtStatus{DefaultArchitecture: "amd64"},
	}
	clusterConfig, _, _ := testutils.NewFakeClusterConfigUsingKVWithCPUArch(kv, "amd64")
	presets, _ := testutils.NewFakeInformerFor(&v1.VirtualMachineInstancePreset{})
	dataSources, _ := testutils.NewFakeInformerFor(&cdiv1.DataSource{})
	namespaces, _ := testutils.NewFakeInformerFor(&k8sv1.Namespace{})
	e := &env{
		in:                in,
		clusterConfig:     clusterConfig,
		serviceAccounts:   webhooks.KubeVirtServiceAccounts(in.KubevirtNamespace),
		controllerAccount: "system:serviceaccount:" + in.KubevirtNamespace + ":kubevirt-controller",
		informers: &webhooks.Informers{
			VMIPresetInformer:  presets,
			DataSourceInformer: dataSources,
			NamespaceInformer:  namespaces,
		},
		pvcStore: cache.NewStore(cache.MetaNamespaceKeyFunc),
	}
	if _, ok := e.serviceAccounts[e.controllerAccount]; !ok {
		accounts := []string{}
		for a := range e.serviceAccounts {
			accounts = append(accounts, a)
		}
		sort.Strings(accounts)
		fmt.Fprintf(os.Stderr, "edge-kubevirt-check: %s is not among KubeVirt's service accounts: %s\n", e.controllerAccount, strings.Join(accounts, ", "))
		os.Exit(2)
	}
	out := output{KubevirtVersion: edgeVersion, KubevirtCommit: edgeCommit, Results: []result{}}
	for _, raw := range in.VMs {
		out.Results = append(out.Results, e.run(raw))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "edge-kubevirt-check:", err)
		os.Exit(2)
	}
}

// virt-controller's flag defaults (pkg/virt-controller/watch/application.go).
const (
	launcherImage       = "virt-launcher"
	exporterImage       = "virt-exportserver"
	launcherQemuTimeout = 240
	virtShareDir        = "/var/run/kubevirt"
	ephemeralDiskDir    = virtShareDir + "-ephemeral-disks"
	containerDiskDir    = virtShareDir + "/container-disks"
	launcherSubGid      = 107
)
