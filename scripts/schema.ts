import { readFileSync, writeFileSync } from "fs";
import {
    stackJsonSchema,
    stackJsonSchemaText,
    stackSchemaPath,
    configReference,
    withConfigReference,
} from "../lib/config";

/**
 * `npm run schema`: writes the stack file's JSON Schema for editors and the config reference in
 * docs/config-reference.md, both generated from lib/config/shape.ts. A test fails when either
 * is stale.
 */
const referencePath = "docs/config-reference.md";
writeFileSync(stackSchemaPath, stackJsonSchemaText());
const page = readFileSync(referencePath, "utf8");
writeFileSync(referencePath, withConfigReference(page, configReference(stackJsonSchema())));
console.log(`wrote ${stackSchemaPath} and the config reference in ${referencePath}`);
