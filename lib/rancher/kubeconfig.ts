import { parse, stringify } from "yaml";
import { Distribution } from "./versions";
import { base64Bytes, bytesBase64, utf8Bytes, utf8Text } from "../core";

/** Where the distribution writes its admin kubeconfig on a server node. */
export function adminKubeconfigPath(type: Distribution): string {
    return type === "k3s" ? "/etc/rancher/k3s/k3s.yaml" : "/etc/rancher/rke2/rke2.yaml";
}

/**
 * Points every cluster entry of a node's admin kubeconfig (which says https://127.0.0.1:6443) at
 * an address reachable from outside the node.
 */
export function rewriteKubeconfigServer(kubeconfig: string, server: string): string {
    const document = parse(kubeconfig) as { clusters?: { cluster?: { server?: string } }[] } | null;
    if (!document || !Array.isArray(document.clusters) || document.clusters.length === 0) {
        throw new Error("the admin kubeconfig read from the node has no clusters");
    }
    for (const entry of document.clusters) {
        if (entry.cluster) {
            entry.cluster.server = server;
        }
    }
    return stringify(document);
}

/** The PEM text of base64 `caBase64`; empty when it is not base64. */
function caText(caBase64: string): string {
    try {
        return utf8Text(base64Bytes(caBase64));
    } catch {
        return "";
    }
}

/**
 * Rancher's kubeconfig with `caBase64` (the cluster's CA, base64 PEM as Rancher reports it) on
 * every cluster entry that points at `server`: the direct API, whose certificate no public CA
 * signs. `matched` says whether there was one.
 */
export function addCertificateAuthority(
    kubeconfig: string,
    server: string,
    caBase64: string,
): { kubeconfig: string; matched: boolean } {
    const document = parse(kubeconfig) as {
        clusters?: { cluster?: Record<string, unknown> }[];
    } | null;
    const ca = caText(caBase64);
    const entries = (typeof document === "object" && document?.clusters) || [];
    const direct = entries.filter((entry) => entry.cluster?.server === server);
    if (direct.length === 0 || !ca.includes("BEGIN CERTIFICATE")) {
        return { kubeconfig, matched: false };
    }
    for (const entry of direct) {
        entry.cluster!["certificate-authority-data"] = bytesBase64(utf8Bytes(ca));
    }
    return { kubeconfig: stringify(document), matched: true };
}
