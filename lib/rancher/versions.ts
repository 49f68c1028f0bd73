/** The Kubernetes distributions Rancher provisions on custom clusters. */
export const distributions = ["k3s", "rke2"] as const;
export type Distribution = (typeof distributions)[number];

/** Per CNI, what an rke2 release must offer, and the oldest release per minor that does. */
export const cniMinimumVersions: Record<
    string,
    { offers: string; minimums: { minor: number; patch: number }[] }
> = {
    // Calico 3.22 (tigera-operator 1.25) brought NodeInternalIP; rke2 first shipped it in v1.23.4.
    calico: {
        offers: "calico's NodeInternalIP address detection",
        minimums: [{ minor: 23, patch: 4 }],
    },
    // Calico 3.22.2 brought kubernetes-internal-ip to canal in these rke2 releases.
    canal: {
        offers: "canal's kubernetes-internal-ip address detection",
        minimums: [
            { minor: 22, patch: 10 },
            { minor: 23, patch: 7 },
            { minor: 24, patch: 1 },
        ],
    },
    // rke2 pkg/cli/cmds: `cni: flannel` is accepted from these releases.
    flannel: {
        offers: "cni: flannel",
        minimums: [
            { minor: 26, patch: 14 },
            { minor: 27, patch: 11 },
            { minor: 28, patch: 7 },
            { minor: 29, patch: 2 },
            { minor: 30, patch: 0 },
        ],
    },
};

/**
 * Why an rke2 version (`v1.31.5+rke2r1`) cannot run the CNI as planned, or undefined when it can:
 * it needs at least the listed patch of its minor, or any later minor than the last listed.
 */
export function cniVersionProblem(cni: string, version: string): string | undefined {
    const requirement = cniMinimumVersions[cni];
    const match = /^v1\.(\d+)\.(\d+)\+/.exec(version);
    if (!requirement || !match) {
        return undefined;
    }
    const [minor, patch] = [Number(match[1]), Number(match[2])];
    const { minimums } = requirement;
    const sameMinor = minimums.find((m) => m.minor === minor);
    const supported = sameMinor
        ? patch >= sameMinor.patch
        : minor > Math.max(...minimums.map((m) => m.minor));
    if (supported) {
        return undefined;
    }
    const oldest = minimums.map((m) => `v1.${m.minor}.${m.patch}+rke2r1`).join(", ");
    return `rke2 ${version} predates ${requirement.offers}; the oldest releases with it are ${oldest} (per minor), and every later minor`;
}
