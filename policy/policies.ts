import { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { SitePlan } from "../lib/plan";
import { typeTokens } from "../lib/core";
import {
    DeclaredNetwork,
    checkClusterCidrs,
    checkDataVolumeRetained,
    checkImageUrl,
    checkNetworkAttachment,
    checkUserData,
    checkVirtualMachine,
    userDataOf,
} from "./rules";

/** A validation of one resource type, reporting every message `check` returns. */
function forType(
    type: string,
    check: (props: Record<string, any>, args: ResourceValidationArgs) => string[],
) {
    return (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
        if (args.type === type) {
            check(args.props, args).forEach((message) => reportViolation(message));
        }
    };
}

/** Per-site facts the pack checks against; `npm run plan -- --policy-config` writes them. */
export interface SitePolicyConfig {
    "images-from-https": { allowedImageUrlPrefixes: string[] };
    "nads-on-declared-bridges": { networks: DeclaredNetwork[] };
    "cluster-cidrs-clear-of-reserved": { reservedCidrs: string[] };
}

/** The pack's config for a site, from the same plan its resources come from. */
export function sitePolicyConfig(site: SitePlan): SitePolicyConfig {
    return {
        "images-from-https": { allowedImageUrlPrefixes: [] },
        "nads-on-declared-bridges": {
            networks: site.networks.map((n) => ({
                ...(n.bridge === undefined ? {} : { bridge: n.bridge }),
                ...(n.sriov === undefined ? {} : { sriov: n.sriov.resourceName }),
                ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
            })),
        },
        "cluster-cidrs-clear-of-reserved": { reservedCidrs: site.reservedCidrs },
    };
}

export const policies: ResourceValidationPolicy[] = [
    {
        name: "vm-cpu-memory-run-strategy",
        description: "Every VirtualMachine sets CPU and memory and runs with runStrategy Always.",
        enforcementLevel: "mandatory",
        validateResource: forType(typeTokens.virtualMachine, checkVirtualMachine),
    },
    {
        name: "user-data-no-passwords",
        description: "No cloud-init user-data sets a password or allows SSH password login.",
        enforcementLevel: "mandatory",
        validateResource: (args, reportViolation) => {
            for (const { where, text } of userDataOf(args.type, args.props)) {
                checkUserData(text, where).forEach((message) => reportViolation(message));
            }
        },
    },
    {
        name: "images-from-https",
        description: "Golden images come over https, or from an allowed source when listed.",
        enforcementLevel: "mandatory",
        configSchema: {
            properties: {
                allowedImageUrlPrefixes: { type: "array", items: { type: "string" }, default: [] },
            },
        },
        validateResource: forType(typeTokens.dataVolume, (props, args) =>
            checkImageUrl(
                props,
                args.getConfig<SitePolicyConfig["images-from-https"]>().allowedImageUrlPrefixes,
            ),
        ),
    },
    {
        name: "datavolumes-retained",
        description: "DataVolumes are never garbage-collected out from under Pulumi.",
        enforcementLevel: "mandatory",
        validateResource: forType(typeTokens.dataVolume, checkDataVolumeRetained),
    },
    {
        name: "nads-on-declared-bridges",
        description:
            "NetworkAttachmentDefinitions use only the bridges, SR-IOV resources and VLANs the site declares.",
        enforcementLevel: "mandatory",
        configSchema: {
            properties: {
                networks: {
                    type: "array",
                    items: {
                        type: "object",
                        properties: {
                            bridge: { type: "string" },
                            sriov: { type: "string" },
                            vlan: { type: "integer" },
                        },
                    },
                },
            },
            required: ["networks"],
        },
        validateResource: forType(typeTokens.nad, (props, args) =>
            checkNetworkAttachment(
                props,
                args.getConfig<SitePolicyConfig["nads-on-declared-bridges"]>().networks,
            ),
        ),
    },
    {
        name: "cluster-cidrs-clear-of-reserved",
        description:
            "Every Rancher cluster's pod and service CIDRs avoid the site's reserved ranges.",
        enforcementLevel: "mandatory",
        configSchema: {
            properties: { reservedCidrs: { type: "array", items: { type: "string" } } },
            required: ["reservedCidrs"],
        },
        validateResource: forType(typeTokens.clusterV2, (props, args) =>
            checkClusterCidrs(
                props,
                args.getConfig<SitePolicyConfig["cluster-cidrs-clear-of-reserved"]>().reservedCidrs,
            ),
        ),
    },
];
