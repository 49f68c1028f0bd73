import * as assert from "assert";
import { formatBytes } from "../lib/quantity";

describe("quantities for people", () => {
    it("name the unit of every amount, bytes included", () => {
        const Ki = 2 ** 10;
        const Mi = 2 ** 20;
        const Gi = 2 ** 30;
        assert.deepStrictEqual(
            [
                0,
                1,
                512,
                Ki - 1,
                Ki,
                1.5 * Ki,
                309.375 * Mi,
                1536 * Mi,
                8 * Gi,
                4_619_374_272,
                2 ** 40,
            ].map(formatBytes),
            [
                "0",
                "1 byte",
                "512 bytes",
                "1023 bytes",
                "1Ki",
                "1.5Ki",
                "309.38Mi",
                "1.5Gi",
                "8Gi",
                "4.3Gi",
                "1Ti",
            ],
        );
    });
});
