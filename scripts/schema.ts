import { readFileSync, writeFileSync } from "fs";
import {
    stackJsonSchema,
    stackJsonSchemaText,
    stackSchemaPath,
    configReference,
    withConfigReference,
} from "../lib/config";

/**
 * `npm run schema`: writes the stack file's JSON Schema for editors and the README's config
 * reference, both generated from lib/config/shape.ts. A test fails when either is stale.
 */
writeFileSync(stackSchemaPath, stackJsonSchemaText());
const readme = readFileSync("README.md", "utf8");
writeFileSync("README.md", withConfigReference(readme, configReference(stackJsonSchema())));
console.log(`wrote ${stackSchemaPath} and the config reference in README.md`);
