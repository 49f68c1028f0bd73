import { z } from "zod";
import { allocationsSchema, clusterSchema, imagesSchema, siteSchema } from "./shape";

/**
 * The JSON Schema of a whole `Pulumi.<site>.yaml`, for editors: generated from the shape in
 * lib/config/shape.ts and committed as schema/stack.schema.json (`npm run schema`). Values that
 * are credentials must be `{secure: ...}`, as `pulumi config set --secret` writes them.
 */

/** Where the generated schema is committed, relative to the project root. */
export const stackSchemaPath = "schema/stack.schema.json";

function secure(description: string) {
    return z
        .strictObject({ secure: z.string().meta({ description: "Ciphertext Pulumi wrote" }) })
        .meta({
            title: "an encrypted value: pulumi config set --secret",
            description: `${description}; a secret: pulumi config set --secret`,
        });
}

/** A value `pulumi config set` may write either way: as it is, or with --secret. */
function plainOrSecure<T extends z.ZodType>(plain: T) {
    return z.union([plain, secure("A value")]);
}

/** A provider's boolean, which `pulumi config set` writes as the string "true" or "false". */
const flag = z.union([z.boolean(), z.enum(["true", "false"])]);

const configSchema = z
    .strictObject({
        "edge:site": siteSchema
            .extend({
                kubeconfig: secure(
                    "Host cluster kubeconfig (--path edge:site.kubeconfig); absent: the ambient kubeconfig",
                ).optional(),
            })
            .meta({
                description: "The site: its host cluster, hosts, address plan and networks",
            }),
        "edge:images": imagesSchema,
        "edge:clusters": z
            .array(clusterSchema)
            .optional()
            .meta({ description: "The site's edge clusters; absent: none" }),
        "edge:allocations": allocationsSchema.optional(),
        "edge:sshPrivateKey": secure(
            "OpenSSH private key of the break-glass kubeconfig read",
        ).optional(),
        "edge:wireguardPrivateKey": secure(
            "WireGuard private key of this site's interconnect gateways (interconnects.yaml)",
        ).optional(),
        "rancher2:apiUrl": plainOrSecure(z.string().regex(/^https?:\/\//))
            .optional()
            .meta({ description: "Rancher's URL, which nodes reach too; absent: RANCHER_URL" }),
        "rancher2:tokenKey": secure(
            "Rancher API token; usually RANCHER_TOKEN_KEY in the environment instead",
        ).optional(),
        "rancher2:accessKey": plainOrSecure(z.string())
            .optional()
            .meta({ description: "Rancher API access key" }),
        "rancher2:secretKey": secure("Rancher API secret key").optional(),
        "rancher2:caCerts": plainOrSecure(z.string())
            .optional()
            .meta({ description: "PEM CA certificates that signed Rancher's certificate" }),
        "rancher2:insecure": flag.optional().meta({
            description:
                "The provider and the node removal hook skip checking Rancher's certificate",
        }),
        "rancher2:bootstrap": flag.optional().meta({
            description: "The provider's bootstrap mode for a new Rancher; not for this program",
        }),
        "rancher2:retries": z
            .union([z.int().min(0), z.string().regex(/^\d+$/)])
            .optional()
            .meta({ description: "Rancher connection retries" }),
        "rancher2:timeout": z
            .string()
            .optional()
            .meta({ description: "Rancher connection timeout, a Go duration (e.g. 60s)" }),
    })
    .meta({ description: "Stack config" });

const stackFileSchema = z
    .looseObject({
        config: configSchema,
        secretsprovider: z.string().optional(),
        encryptedkey: z.string().optional(),
        encryptionsalt: z.string().optional(),
        environment: z.array(z.string()).optional(),
    })
    .meta({
        title: "Pulumi stack file of the edge cluster provisioner",
        description:
            "Pulumi.<site>.yaml: the edge: keys this program reads and the rancher2: keys of its provider",
    });

/**
 * The generated JSON Schema. Other providers' keys stay allowed; an unknown `edge:` key is an
 * error, as the program makes it one, and so is an unknown `rancher2:` key, which the provider
 * would ignore without a word.
 */
export function stackJsonSchema(): Record<string, unknown> {
    const schema = z.toJSONSchema(stackFileSchema, { io: "input", target: "draft-2020-12" });
    const config = (schema.properties as Record<string, Record<string, unknown>>).config;
    config.patternProperties = { "^(?!edge:|rancher2:)": {} };
    return schema;
}

/** The schema file's text, as committed. */
export function stackJsonSchemaText(): string {
    return `${JSON.stringify(stackJsonSchema(), null, 2)}\n`;
}
