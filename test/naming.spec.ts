import * as assert from "assert";
import * as naming from "../lib/core/naming";

/**
 * Every name the program gives something in a real system, pinned in one place: renaming any of
 * them replaces resources (a type token or Pulumi name), orphans objects (a Kubernetes name or
 * label) or breaks what a running node looks for (a path). Change one only with a migration.
 */
describe("names in real systems", () => {
    it("pins the labels and annotations", () => {
        assert.strictEqual(naming.labelPrefix, "edge.testbed");
        assert.deepStrictEqual(naming.labels, {
            site: "edge.testbed/site",
            cluster: "edge.testbed/cluster",
            node: "edge.testbed/node",
            controlplane: "edge.testbed/controlplane",
            interconnect: "edge.testbed/interconnect",
        });
        assert.deepStrictEqual(naming.annotations, {
            rootDisk: "edge.testbed/root-disk",
            clusterIdentity: "edge.testbed/cluster-identity",
            protected: "edge.testbed/protected",
        });
    });

    it("pins the type tokens", () => {
        assert.deepStrictEqual(naming.typeTokens, {
            siteNetwork: "edge:index:SiteNetwork",
            edgeCluster: "edge:index:EdgeCluster",
            kubevirtNode: "edge:index:KubevirtNode",
            interconnectGateway: "edge:index:InterconnectGateway",
            namespace: "kubernetes:core/v1:Namespace",
            secret: "kubernetes:core/v1:Secret",
            service: "kubernetes:core/v1:Service",
            nad: "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition",
            dataVolume: "kubernetes:cdi.kubevirt.io/v1beta1:DataVolume",
            virtualMachine: "kubernetes:kubevirt.io/v1:VirtualMachine",
            clusterV2: "rancher2:index/clusterV2:ClusterV2",
            clusterSync: "rancher2:index/clusterSync:ClusterSync",
            remoteCommand: "command:remote:Command",
            hostKey: "tls:index/privateKey:PrivateKey",
            stack: "pulumi:pulumi:Stack",
            k8sProvider: "pulumi:providers:kubernetes",
        });
    });

    it("pins Pulumi, Kubernetes and Rancher names", () => {
        assert.deepStrictEqual(
            [
                naming.resourceNames.hostProvider("s"),
                naming.resourceNames.namespace("s", "ns"),
                naming.resourceNames.nad("s", "lab"),
                naming.resourceNames.goldenImage("s", "img"),
                naming.resourceNames.apiService("c"),
                naming.resourceNames.clusterSync("c"),
                naming.resourceNames.breakGlass("c"),
                naming.resourceNames.node("c", "n"),
                naming.resourceNames.cloudInit("c-n"),
                naming.resourceNames.rootDisk("c-n"),
                naming.resourceNames.hostKey("c-n"),
                naming.resourceNames.gateway("s", "eu"),
                naming.resourceNames.nodeRemovalHook,
                naming.resourceNames.nodeJoinHook,
                naming.vmName("c", "n"),
                naming.rancherClusterName("s", "c"),
                naming.cloneSourceRoleName,
                naming.podInterfaceName,
            ],
            [
                "s-host",
                "s-ns-ns",
                "s-nad-lab",
                "s-image-img",
                "c-api",
                "c-sync",
                "c-break-glass",
                "c-n",
                "c-n-cloudinit",
                "c-n-rootdisk",
                "c-n-hostkey",
                "s-eu-gw",
                "edge-node-removal",
                "edge-node-join",
                "c-n",
                "s-c",
                "edge-clone-source",
                "pod",
            ],
        );
    });

    it("pins the identities whose change replaces a cluster, a disk or a VM", () => {
        const disk = {
            sourceNamespace: "edge-images",
            image: "ubuntu-jammy",
            size: "20Gi",
            roles: ["controlplane", "etcd"],
        };
        assert.strictEqual(
            naming.clusterIdentity("rke2", "10.90.0.0/16", "10.91.0.0/20"),
            "rke2 pods=10.90.0.0/16 services=10.91.0.0/20",
        );
        assert.strictEqual(
            naming.rootDiskIdentity(disk),
            "image=edge-images/ubuntu-jammy size=20Gi storageClass=(cluster default) roles=controlplane,etcd",
        );
        assert.strictEqual(
            naming.vmIdentity("core", { ...disk, storageClass: "local-path" }),
            "namespace=core image=edge-images/ubuntu-jammy size=20Gi storageClass=local-path roles=controlplane,etcd",
        );
        assert.strictEqual(
            naming.interfaceMac("greece", "final-test", "cluster-master", "lab"),
            "e6:d3:d0:a5:8f:c8",
        );
    });

    it("pins the paths a node's registration uses", () => {
        assert.strictEqual(naming.registrationMarker, "/var/lib/edge-testbed/registered");
        assert.strictEqual(naming.registrationScript, "/usr/local/sbin/edge-register");
        assert.strictEqual(naming.tunnelMarker, "/var/lib/edge-testbed/tunnel-up");
        assert.deepStrictEqual(naming.readinessSocket, {
            unit: "edge-ready.socket",
            service: "edge-ready@.service",
            port: 10290,
        });
    });

    it("pins the paths of a gateway's tunnel keeper", () => {
        const { endpoints, ...units } = naming.tunnelKeeper;
        assert.deepStrictEqual(units, {
            script: "/usr/local/sbin/edge-tunnel",
            service: "edge-tunnel.service",
            timer: "edge-tunnel.timer",
        });
        assert.strictEqual(endpoints("wg-eu"), "/etc/wireguard/wg-eu.endpoints");
    });
});
