import { parse } from "yaml";
import { overlaps, parseCidr, nadResourceAnnotation } from "../lib/core";

/**
 * The checks of the policy pack as pure functions of a resource's inputs and the pack's config.
 * Each returns the violations it found, as messages.
 */

type Props = Record<string, any>;

/** A site network that NetworkAttachmentDefinitions may use: a bridge or an SR-IOV resource. */
export interface DeclaredNetwork {
    bridge?: string;
    sriov?: string;
    vlan?: number;
}

export function checkVirtualMachine(props: Props): string[] {
    const violations: string[] = [];
    const spec = props.spec?.template?.spec;
    const cores = spec?.domain?.cpu?.cores;
    const memory = spec?.domain?.memory?.guest ?? spec?.domain?.resources?.requests?.memory;
    if (!(typeof cores === "number" && cores > 0)) {
        violations.push("a VirtualMachine must set spec.template.spec.domain.cpu.cores");
    }
    if (typeof memory !== "string" || memory === "") {
        violations.push("a VirtualMachine must set spec.template.spec.domain.memory.guest");
    }
    if (props.spec?.runStrategy !== "Always") {
        violations.push(
            `a VirtualMachine must run with runStrategy Always, not ${JSON.stringify(props.spec?.runStrategy ?? props.spec?.running)}`,
        );
    }
    return violations;
}

const passwordKeys = ["password", "passwd", "plain_text_passwd", "hashed_passwd", "chpasswd"];

/** Password settings anywhere in a cloud-config document, by their path. */
function passwordSettings(value: unknown, path: string[] = []): string[] {
    if (Array.isArray(value)) {
        return value.flatMap((item, i) => passwordSettings(item, [...path, String(i)]));
    }
    if (typeof value !== "object" || value === null) {
        return [];
    }
    return Object.entries(value).flatMap(([key, child]) => {
        const here = [...path, key];
        const found = passwordKeys.includes(key) ? [here.join(".")] : [];
        const auth = key === "ssh_pwauth" && child !== false ? [`${here.join(".")}: ${child}`] : [];
        return [...found, ...auth, ...passwordSettings(child, here)];
    });
}

/** cloud-init user-data that sets a password or lets SSH accept one. */
export function checkUserData(userData: string, where: string): string[] {
    let document: unknown;
    try {
        document = parse(userData);
    } catch {
        return [`${where}: user-data is not valid YAML`];
    }
    const violations = passwordSettings(document).map(
        (setting) => `${where}: user-data sets ${setting}; nodes take SSH keys only`,
    );
    const pwauth = (document as { ssh_pwauth?: unknown } | null)?.ssh_pwauth;
    if (pwauth === undefined) {
        violations.push(`${where}: user-data must set ssh_pwauth: false`);
    }
    return violations;
}

/** The user-data a Secret or a VM carries, if its inputs are known yet. */
export function userDataOf(type: string, props: Props): { where: string; text: string }[] {
    if (type === "kubernetes:core/v1:Secret") {
        const plain = props.stringData?.userdata ?? props.stringData?.userData;
        const encoded = props.data?.userdata ?? props.data?.userData;
        const text =
            typeof plain === "string"
                ? plain
                : typeof encoded === "string"
                  ? Buffer.from(encoded, "base64").toString("utf8")
                  : undefined;
        return text === undefined ? [] : [{ where: "Secret", text }];
    }
    if (type === "kubernetes:kubevirt.io/v1:VirtualMachine") {
        const volumes: Props[] = props.spec?.template?.spec?.volumes ?? [];
        return volumes.flatMap((volume) => {
            const inline =
                volume.cloudInitNoCloud?.userData ?? volume.cloudInitConfigDrive?.userData;
            return typeof inline === "string"
                ? [{ where: `volume ${volume.name}`, text: inline }]
                : [];
        });
    }
    return [];
}

export function checkImageUrl(props: Props, allowedPrefixes: string[]): string[] {
    const url = props.spec?.source?.http?.url;
    if (typeof url !== "string") {
        return [];
    }
    if (allowedPrefixes.length > 0) {
        return allowedPrefixes.some((prefix) => url.startsWith(prefix))
            ? []
            : [`image ${url} is not from an allowed source (${allowedPrefixes.join(", ")})`];
    }
    return url.startsWith("https://") ? [] : [`image ${url} is not fetched over https`];
}

export const retainAnnotation = "cdi.kubevirt.io/storage.deleteAfterCompletion";

export function checkDataVolumeRetained(props: Props): string[] {
    return props.metadata?.annotations?.[retainAnnotation] === "false"
        ? []
        : [
              `a DataVolume must carry ${retainAnnotation}: "false", or CDI garbage-collects it and Pulumi recreates it`,
          ];
}

export function checkNetworkAttachment(props: Props, declared: DeclaredNetwork[]): string[] {
    let config: { bridge?: string; vlan?: number; type?: string };
    try {
        config = JSON.parse(props.spec?.config ?? "");
    } catch {
        return ["a NetworkAttachmentDefinition's spec.config must be CNI JSON"];
    }
    if (config.type === "sriov") {
        const resource = props.metadata?.annotations?.[nadResourceAnnotation];
        if (resource === undefined) {
            return [
                `an SR-IOV NetworkAttachmentDefinition needs the ${nadResourceAnnotation} annotation`,
            ];
        }
        if (config.vlan === undefined) {
            // sriov-cni leaves a VF's earlier VLAN in place without one (its
            // docs/configuration-reference.md): 0 is how a NAD says untagged.
            return ['an SR-IOV NetworkAttachmentDefinition needs "vlan" (0 for untagged)'];
        }
        // "vlan": 0 is no VLAN, as the site declares it by leaving vlan out.
        const vlan = config.vlan === 0 ? undefined : config.vlan;
        const declaredVfs = declared.some(
            (n) => n.sriov !== undefined && n.sriov === resource && n.vlan === vlan,
        );
        const what = vlan === undefined ? resource : `${resource} VLAN ${vlan}`;
        return declaredVfs ? [] : [`SR-IOV resource ${what} is not a network the site declares`];
    }
    const allowed = declared.some(
        (network) =>
            network.bridge !== undefined &&
            network.bridge === config.bridge &&
            network.vlan === config.vlan,
    );
    const where =
        config.vlan === undefined ? config.bridge : `${config.bridge} VLAN ${config.vlan}`;
    return allowed ? [] : [`bridge ${where} is not a network the site declares`];
}

export function checkClusterCidrs(props: Props, reserved: string[]): string[] {
    let config: Record<string, unknown>;
    try {
        config = (parse(props.rkeConfig?.machineGlobalConfig ?? "") ?? {}) as Record<
            string,
            unknown
        >;
    } catch {
        return ["a cluster's machineGlobalConfig must be YAML"];
    }
    const violations: string[] = [];
    for (const key of ["cluster-cidr", "service-cidr"]) {
        const text = config[key];
        const parsed = typeof text === "string" ? parseCidr(text) : undefined;
        if (!parsed || "error" in parsed) {
            violations.push(`${key} must be set to an IPv4 CIDR`);
            continue;
        }
        for (const range of reserved) {
            const other = parseCidr(range);
            if ("cidr" in other && overlaps(parsed.cidr, other.cidr)) {
                violations.push(`${key} ${text} overlaps the site's reserved range ${range}`);
            }
        }
    }
    return violations;
}
