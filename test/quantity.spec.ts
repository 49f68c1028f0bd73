import * as assert from "assert";
import { formatBytes, formatCores, millicores } from "../lib/core/quantity";

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

    it("count CPU in millicores, rounded up as Kubernetes does, and show it in cores", () => {
        assert.deepStrictEqual(
            ["2", "500m", "1.5", "0.0005"].map(millicores),
            [2000, 500, 1500, 1],
        );
        assert.throws(() => millicores("2 cores"), /"2 cores" is not a CPU quantity/);
        assert.deepStrictEqual([0, 5, 2005, 12010, 62000].map(formatCores), [
            "0",
            "0.005",
            "2.005",
            "12.01",
            "62",
        ]);
    });
});
