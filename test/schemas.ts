import Ajv, { ValidateFunction } from "ajv";
import AjvDraft04 from "ajv-draft-04";
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import { projectRoot } from "./mocks";

/** The upstream schemas shared beside the project; never copied into it. */
export const schemaRoot = path.resolve(projectRoot, "..", "shared", "schemas");

export const schemasPresent = existsSync(schemaRoot);

/** Skips the calling suite, saying why, when the shared schemas are not beside the project. */
export function requireSchemas(context: Mocha.Context): void {
    if (!schemasPresent) {
        console.log(`    (skipped: ${schemaRoot} not found; upstream schema checks need it)`);
        context.skip();
    }
}

function load(relative: string): Record<string, unknown> {
    return JSON.parse(readFileSync(path.join(schemaRoot, relative), "utf8"));
}

const crdFiles: Record<string, string> = {
    "kubevirt.io/v1/VirtualMachine": "crds/kubevirt.io/virtualmachine_v1.json",
    "cdi.kubevirt.io/v1beta1/DataVolume": "crds/cdi.kubevirt.io/datavolume_v1beta1.json",
    "k8s.cni.cncf.io/v1/NetworkAttachmentDefinition":
        "crds/k8s.cni.cncf.io/networkattachmentdefinition_v1.json",
    "provisioning.cattle.io/v1/Cluster": "crds/provisioning.cattle.io/cluster_v1.json",
};

const validators = new Map<string, ValidateFunction>();

function compiled(key: string, build: () => ValidateFunction): ValidateFunction {
    let validate = validators.get(key);
    if (!validate) {
        validate = build();
        validators.set(key, validate);
    }
    return validate;
}

// The CRD schemas carry x-kubernetes-* keywords, which a strict validator would refuse.
const crdAjv = () => new Ajv({ strict: false, allErrors: true, validateFormats: false });

function errorsOf(validate: ValidateFunction): string[] {
    return (validate.errors ?? []).map(
        (e) =>
            `${e.instancePath || "/"} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`,
    );
}

/** Schema errors of a Kubernetes object, picking the schema by its apiVersion and kind. */
export function crdErrors(object: { apiVersion: string; kind: string }): string[] {
    const key = `${object.apiVersion}/${object.kind}`;
    const file = crdFiles[key];
    if (!file) {
        throw new Error(`no schema for ${key}`);
    }
    const validate = compiled(key, () => crdAjv().compile(load(file)));
    return validate(object) ? [] : errorsOf(validate);
}

/** Schema errors of a cloud-config document (parsed, without its `#cloud-config` line). */
export function cloudConfigErrors(document: unknown): string[] {
    const validate = compiled("cloud-config", () =>
        new AjvDraft04({ strict: false, allErrors: true, validateFormats: false }).compile(
            load("cloud-init/schema-cloud-config-v1.json"),
        ),
    );
    return validate(document) ? [] : errorsOf(validate);
}

/**
 * cloud-init's network-config v2 schema with the netplan keys it does not list: a route's `table`
 * and `on-link`, and `routing-policy` (netplan src/parse.c, route and routing-policy handlers).
 * Where netplan exists cloud-init never applies this schema: it checks v2 with netplan's parser
 * or not at all, and passes the document through (cloud-init cloudinit/config/schema.py,
 * cloudinit/net/netplan.py). Only these keys are added; the rest stays as strict as cloud-init's.
 */
function networkConfigV2WithNetplanRouting(): Record<string, any> {
    const schema = load("cloud-init/schema-network-config-v2.json") as Record<string, any>;
    const mapping = schema.$defs.mapping.properties;
    Object.assign(mapping.routes.items.properties, {
        table: { type: "integer", minimum: 1 },
        "on-link": { type: "boolean" },
    });
    mapping["routing-policy"] = {
        type: "array",
        items: {
            type: "object",
            additionalProperties: false,
            required: ["table"],
            properties: {
                from: { type: "string" },
                to: { type: "string" },
                table: { type: "integer", minimum: 1 },
                priority: { type: "integer" },
            },
        },
    };
    return schema;
}

/** Schema errors of a network-config v2 document. */
export function networkConfigErrors(document: unknown): string[] {
    const validate = compiled("network-config-v2", () =>
        new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(
            networkConfigV2WithNetplanRouting(),
        ),
    );
    return validate(document) ? [] : errorsOf(validate);
}
