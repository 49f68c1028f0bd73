import * as assert from "assert";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { Browser, Page, chromium } from "playwright-core";
import { planInterconnects } from "../lib/plan/interconnect";
import { ProblemList } from "../lib/core/problems";
import { renderPage } from "../offline/page";
import { PageModel, pageModel } from "../offline/viewModel";
import { editableStackConfig, projectRoot } from "./mocks";
import { changedGreece, renderedDir, siteInput } from "./pages";
import { loadInterconnects } from "../runtime/projectFiles";

/** Debian's chromium (`.ci/run` installs it); CHROMIUM_PATH names another build of it. */
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Where the screenshots of each view go, for CI to keep. */
const screenshots = path.join(projectRoot, "test-artifacts", "page");

interface Opened {
    page: Page;
    /** Every request the page made that is not the page itself. */
    requests: string[];
    /** Console errors and uncaught exceptions. */
    errors: string[];
}

describe("the topology page in a real browser", function () {
    this.timeout(120000);
    let browser: Browser;
    let work: string;
    let plain: PageModel;
    let changed: PageModel;

    before(async function () {
        if (!existsSync(chromiumPath)) {
            console.log(`    (skipped: no browser at ${chromiumPath}; .ci/run installs chromium)`);
            this.skip();
        }
        work = mkdtempSync(path.join(tmpdir(), "edge-page-"));
        mkdirSync(screenshots, { recursive: true });
        const problems = new ProblemList();
        const loaded = loadInterconnects(projectRoot)!;
        plain = pageModel(
            [
                await siteInput("france", editableStackConfig("france")),
                await siteInput("greece", editableStackConfig("greece")),
            ],
            planInterconnects(loaded.raw, loaded.sites, problems),
        );
        changed = pageModel([
            await siteInput(
                "greece",
                changedGreece(editableStackConfig("greece")),
                renderedDir("greece"),
            ),
        ]);
        browser = await chromium.launch({ executablePath: chromiumPath });
    });

    after(async () => {
        await browser?.close();
        if (work) {
            rmSync(work, { recursive: true, force: true });
        }
    });

    async function open(model: PageModel, name: string): Promise<Opened> {
        const file = path.join(work, `${name}.html`);
        writeFileSync(file, renderPage(model));
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        const requests: string[] = [];
        const errors: string[] = [];
        page.on("request", (request) => {
            if (
                request.url() !== `file://${file}` &&
                !request.url().startsWith(`file://${file}#`)
            ) {
                requests.push(request.url());
            }
        });
        page.on("console", (message) => {
            if (message.type() === "error") {
                errors.push(message.text());
            }
        });
        page.on("pageerror", (error) => errors.push(error.message));
        await page.goto(`file://${file}`);
        return { page, requests, errors };
    }

    it("shows every site, network, cluster and node of both example stacks", async () => {
        const { page, requests, errors } = await open(plain, "both");
        assert.deepStrictEqual(
            await page.locator('#topology .network[data-id^="france/"]').allTextContents(),
            [
                "edge bridge br-trunk VLAN 120 · 10.120.0.0/24 · gateway 10.120.0.1",
                "storage bridge br-trunk VLAN 121 · 10.121.0.0/24 · gateway 10.121.0.1",
                "fabric SR-IOV intel.com/sriov_fabric VLAN 122 · 10.122.0.0/24 · gateway 10.122.0.1",
            ],
        );
        for (const site of plain.sites) {
            assert.strictEqual(await page.locator(`article.site[data-id="${site.id}"]`).count(), 1);
            for (const network of site.networks) {
                assert.strictEqual(
                    await page.locator(`#topology .network[data-id="${network.id}"]`).count(),
                    1,
                    network.id,
                );
            }
            for (const cluster of site.clusters) {
                const box = page.locator(`#topology .cluster[data-id="${cluster.id}"]`);
                assert.strictEqual(await box.count(), 1, cluster.id);
                assert.deepStrictEqual(
                    await box
                        .locator(".node")
                        .evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-id"))),
                    cluster.nodes.map((n) => n.id),
                );
            }
        }
        const link = page.locator('#topology .link[data-id="link/eu"]');
        assert.strictEqual(await link.locator(".mtu").textContent(), "1420");
        assert.deepStrictEqual(await link.locator(".ends li").allTextContents(), [
            "greece gateway 192.168.18.250 on lab, tunnel 10.255.0.1; offers 192.168.18.0/24",
            "france gateway 10.120.0.250 on edge, tunnel 10.255.0.2; offers 10.120.0.0/24, 10.121.0.0/24",
        ]);
        await page.screenshot({ path: path.join(screenshots, "topology.png"), fullPage: true });
        assert.deepStrictEqual(requests, [], "the page fetches nothing");
        assert.deepStrictEqual(errors, []);
    });

    it("shows a node's IPs and MACs when it is clicked", async () => {
        const { page, errors } = await open(plain, "click");
        const node = plain.sites[0].clusters[0].nodes[3];
        await page.click(`#topology .node[data-id="${node.id}"]`);
        const detail = page.locator(".detail:target");
        assert.strictEqual(await detail.getAttribute("data-id"), node.id);
        assert.ok(await detail.isVisible());
        assert.deepStrictEqual(
            await detail.locator("td.ip").allTextContents(),
            node.nics.map((n) => n.ip),
        );
        assert.deepStrictEqual(
            await detail.locator("td.mac").allTextContents(),
            node.nics.map((n) => n.mac),
        );
        await page.screenshot({ path: path.join(screenshots, "details.png") });
        assert.deepStrictEqual(errors, []);
    });

    it("counts in the address view what the plan assigns", async () => {
        const { page, errors } = await open(plain, "addresses");
        for (const site of plain.sites) {
            for (const network of site.networks) {
                const strip = page.locator(`#addresses .strip-block[data-id="${network.id}"]`);
                for (const state of ["pinned", "recorded", "new", "free"] as const) {
                    const text = await strip.locator(`[data-count="${state}"]`).textContent();
                    assert.strictEqual(
                        Number(text?.split(" ")[0]),
                        network.counts[state],
                        `${network.id} ${state}`,
                    );
                }
                assert.strictEqual(await strip.locator(".mark").count(), network.addresses.length);
            }
        }
        await page.locator("#addresses").scrollIntoViewIfNeeded();
        await page.screenshot({ path: path.join(screenshots, "addresses.png") });
        assert.deepStrictEqual(errors, []);
    });

    it("marks exactly the resources a change touches, with counts at the top", async () => {
        const { page, requests, errors } = await open(changed, "change");
        const marked = await page
            .locator("#topology [data-change]")
            .evaluateAll((elements) =>
                elements.map(
                    (e) => `${e.getAttribute("data-id")} ${e.getAttribute("data-change")}`,
                ),
            );
        assert.deepStrictEqual(marked, [
            "greece/final-test replace",
            "greece/final-test/cluster-master replace",
            "greece/final-test/worker1 update",
            "greece/final-test/worker2 create",
        ]);
        assert.deepStrictEqual(
            await page
                .locator("#addresses .mark[data-change]")
                .evaluateAll((marks) =>
                    marks.map(
                        (m) => `${m.getAttribute("data-ip")} ${m.getAttribute("data-change")}`,
                    ),
                ),
            ["192.168.18.2 create", "192.168.18.203 replace", "192.168.18.204 update"],
            "the address view marks the same nodes",
        );
        const counts = await page
            .locator("#change-summary [data-count]")
            .evaluateAll((elements) => elements.map((e) => e.textContent));
        assert.deepStrictEqual(counts, [
            "3 to create",
            "1 to update",
            "3 to replace",
            "0 to delete",
        ]);
        assert.deepStrictEqual(
            await page.locator("#change tbody tr").evaluateAll((rows) =>
                rows.map((r) =>
                    [...r.querySelectorAll("td")]
                        .slice(1, 4)
                        .map((td) => td.textContent)
                        .join(" "),
                ),
            ),
            [
                "final-test replace ClusterSync final-test-sync",
                "final-test/cluster-master replace DataVolume final-test-cluster-master-rootdisk",
                "final-test/cluster-master replace VirtualMachine final-test-cluster-master",
                "final-test/worker1 update VirtualMachine final-test-worker1",
                "final-test/worker2 create DataVolume final-test-worker2-rootdisk",
                "final-test/worker2 create Secret final-test-worker2-cloudinit",
                "final-test/worker2 create VirtualMachine final-test-worker2",
            ],
        );
        await page.locator("#change").scrollIntoViewIfNeeded();
        await page.screenshot({ path: path.join(screenshots, "change.png") });
        assert.deepStrictEqual(requests, []);
        assert.deepStrictEqual(errors, []);
    });

    it("finds a node by IP or MAC from the search box, and works from the keyboard", async () => {
        const { page, errors } = await open(plain, "search");
        const node = plain.sites[1].clusters[0].nodes[1];
        await page.fill("#search", node.nics[0].mac);
        assert.deepStrictEqual(
            await page
                .locator("#topology .node.match")
                .evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-id"))),
            [node.id],
        );
        assert.strictEqual(await page.textContent("#search-status"), "1 node");
        await page.press("#search", "Enter");
        assert.strictEqual(await page.locator(".detail:target").getAttribute("data-id"), node.id);

        await page.fill("#search", "");
        const link = page.locator(`#table a[href="#d-${node.id.replace(/[^A-Za-z0-9-]/g, "_")}"]`);
        await link.first().focus();
        await page.keyboard.press("Enter");
        assert.strictEqual(await page.locator(".detail:target").getAttribute("data-id"), node.id);
        await page.locator("#table").scrollIntoViewIfNeeded();
        await page.screenshot({ path: path.join(screenshots, "table.png") });
        assert.deepStrictEqual(errors, []);
    });

    it("shows each site's hosts, their use and VMs, and a VM's host in its details", async () => {
        const { page, requests, errors } = await open(plain, "hosts");
        const hostIds = (site: string) =>
            page
                .locator(`#hosts .site-hosts[data-id="${site}"] .host-card`)
                .evaluateAll((cards) => cards.map((c) => c.getAttribute("data-id")));
        assert.deepStrictEqual(await hostIds("france"), [
            "france/host/fr-host-1",
            "france/host/fr-host-2",
            "france/host/fr-host-3",
        ]);
        assert.deepStrictEqual(await hostIds("greece"), ["greece/host/gr-host-1"]);
        const card = (id: string) => page.locator(`#hosts .host-card[data-id="${id}"]`);
        const rows = (id: string) =>
            card(id)
                .locator("tr.use")
                .evaluateAll((trs) =>
                    trs.map((tr) =>
                        [...tr.querySelectorAll("th,td")].map((c) => c.textContent).join("|"),
                    ),
                );
        const gpuHost = card("france/host/fr-host-3");
        assert.strictEqual(await gpuHost.locator("h4").textContent(), "fr-host-3 zone rack-c");
        assert.deepStrictEqual(await rows("france/host/fr-host-3"), [
            "cores||12.02 of 46 cores|26.13%",
            "memory||41.79Gi of 186Gi|22.47%",
            "intel.com/sriov_fabric||1 of 8 intel.com/sriov_fabric|12.5%",
            "nvidia.com/TU104GL_Tesla_T4||1 of 2 nvidia.com/TU104GL_Tesla_T4|50%",
        ]);
        assert.deepStrictEqual(await rows("france/host/fr-host-1"), [
            "cores||14.015 of 62 cores|22.6%",
            "memory||28.97Gi of 250Gi|11.59%",
            "1Gi hugepages||0 of 64Gi|0%",
        ]);
        assert.deepStrictEqual(await rows("greece/host/gr-host-1"), [
            "cores||12.01 of 30 cores|40.03%",
            "memory||8.67Gi of 124Gi|6.99%",
        ]);
        // The bars are CSS only: the device bar of fr-host-3 is drawn half full.
        const device = gpuHost.locator('tr[data-resource="nvidia.com/TU104GL_Tesla_T4"]');
        const bar = (await device.locator(".bar").boundingBox())!;
        const fill = (await device.locator(".fill").boundingBox())!;
        assert.ok(bar.width > 50, `bar is ${bar.width}px wide`);
        assert.ok(
            Math.abs(fill.width / (bar.width - 2) - 0.5) < 0.02,
            `${fill.width}/${bar.width}`,
        );

        const links = await page
            .locator("#hosts .host-card .vms a")
            .evaluateAll((anchors) =>
                anchors.map((a) => `${a.textContent} ${a.getAttribute("href")}`),
            );
        assert.deepStrictEqual(links, [
            "core-server1 #d-france_core_server1",
            "ml-cpu-1 #d-france_ml_cpu-1",
            "ml-server-1 #d-france_ml_server-1",
            "core-server2 #d-france_core_server2",
            "ml-cpu-2 #d-france_ml_cpu-2",
            "core-server3 #d-france_core_server3",
            "ml-gpu-1 #d-france_ml_gpu-1",
            "final-test-cluster-master #d-greece_final-test_cluster-master",
            "final-test-worker1 #d-greece_final-test_worker1",
        ]);
        assert.deepStrictEqual(
            await page
                .locator('#hosts .site-hosts[data-id="france"] .unplaced a')
                .allTextContents(),
            ["core-worker1", "core-worker2", "lab-node1"],
        );
        assert.deepStrictEqual(
            await page
                .locator('#hosts .site-hosts[data-id="greece"] .unplaced a')
                .allTextContents(),
            [],
        );

        await gpuHost.locator("a", { hasText: "ml-gpu-1" }).click();
        const detail = page.locator(".detail:target");
        assert.strictEqual(await detail.getAttribute("data-id"), "france/ml/gpu-1");
        assert.ok(await detail.isVisible());
        assert.strictEqual(
            await detail.locator(".placement-host").textContent(),
            "fr-host-3 (recorded)",
        );
        assert.strictEqual(
            await detail.locator(".placement-reason").textContent(),
            "recorded in edge:allocations",
        );
        await page.locator("#hosts").evaluate((section) => section.scrollIntoView());
        await page.screenshot({ path: path.join(screenshots, "hosts.png") });

        // From the keyboard: a VM link opens its details, whose host link leads back to the host.
        await card("france/host/fr-host-2").locator("a", { hasText: "ml-cpu-2" }).focus();
        await page.keyboard.press("Enter");
        assert.strictEqual(await detail.getAttribute("data-id"), "france/ml/cpu-2");
        assert.strictEqual(
            await detail.locator(".placement-host").textContent(),
            "fr-host-2 (recorded)",
        );
        await detail.locator(".placement-host a").focus();
        await page.keyboard.press("Enter");
        assert.strictEqual(
            await page.locator(".host-card:target").getAttribute("data-id"),
            "france/host/fr-host-2",
        );

        await page.click('#hosts .unplaced a:text-is("core-worker1")');
        assert.strictEqual(await detail.getAttribute("data-id"), "france/core/worker1");
        assert.strictEqual(
            await detail.locator(".placement-host").textContent(),
            "not placed (scheduler chooses)",
        );
        assert.deepStrictEqual(requests, [], "the page fetches nothing");
        assert.deepStrictEqual(errors, []);
    });
});
