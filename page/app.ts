import cytoscape from "cytoscape";
import { interconnectsFile } from "../lib/plan";
import { stackFilePath, stackOfFile } from "../lib/config";
import { renderExplanation } from "../offline/explain";
import {
    GraphElement,
    PlanChange,
    Planned,
    WorkbenchFiles,
    duplicateEntry,
    exportedFiles,
    fieldsAt,
    graphOf,
    planChanges,
    planFiles,
    removeEntry,
    setField,
} from "../offline/workbench";
import { stringify } from "yaml";

/**
 * The topology page's workbench, in the browser: the graph of every site, a form for the selected
 * element, the files, the problems, the change and the export. Everything it computes comes from
 * offline/workbench.ts and lib/, the code `npm run plan` runs; this file only draws it.
 */

interface Data {
    files: WorkbenchFiles;
    /** The page's own detail pane (the committed plan's) of each element that has one. */
    details: Record<string, string>;
}

const data: Data = JSON.parse(document.getElementById("workbench-data")!.textContent!);
const committed = data.files;
let files: WorkbenchFiles = structuredClone(committed);
const committedPlan = planFiles(committed);
let planned: Planned = committedPlan;
let changes: PlanChange[] = [];
let elements: GraphElement[] = [];
let selected: string | undefined;
let lastPlanMs = 0;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    attributes: Record<string, string> = {},
    ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
        element.setAttribute(key, value);
    }
    element.append(...children);
    return element;
}

/** The page's own colours of each action (offline/page.ts, `.change-*`). */
const changeColours = {
    create: "#2da44e",
    update: "#bf8700",
    replace: "#cf222e",
    delete: "#6e7781",
};

const cy = cytoscape({
    container: $("wb-graph"),
    elements: [],
    layout: { name: "preset" },
    style: [
        {
            selector: "node",
            style: {
                label: "data(label)",
                "text-wrap": "wrap",
                "font-size": 11,
                "text-valign": "center",
                "text-halign": "center",
                width: 120,
                height: 44,
                shape: "round-rectangle",
                "background-color": "#dbe9f6",
                "border-width": 1,
                "border-color": "#6e7781",
            },
        },
        {
            selector: ":parent",
            style: {
                "text-valign": "top",
                "text-halign": "center",
                "background-color": "#f6f8fa",
                "background-opacity": 0.6,
                "font-weight": "bold",
                padding: "18px",
            },
        },
        {
            selector: "node[kind = 'network']",
            style: { shape: "barrel", "background-color": "#fff8c5" },
        },
        {
            selector: "node[kind = 'host']",
            style: { shape: "rectangle", "background-color": "#e6e6e6" },
        },
        {
            selector: "node[kind = 'gateway']",
            style: { shape: "diamond", width: 90, height: 60, "background-color": "#ddf4ff" },
        },
        ...(["create", "update", "replace", "delete"] as const).map((action) => ({
            selector: `[change = '${action}']`,
            style: {
                "border-width": 4,
                "border-color": changeColours[action],
                ...(action === "delete" ? { "border-style": "dashed" as const, opacity: 0.6 } : {}),
            },
        })),
        {
            selector: "edge",
            style: {
                width: 1,
                "line-color": "#8c959f",
                "curve-style": "bezier",
                "font-size": 9,
                label: "data(label)",
            },
        },
        { selector: "edge[kind = 'placement']", style: { "line-style": "dotted", label: "" } },
        {
            selector: "edge[kind = 'link']",
            style: { width: 3, "line-color": "#0969da", "font-size": 12 },
        },
        {
            selector: ":selected",
            style: { "border-width": 4, "border-color": "#0969da", "line-color": "#0969da" },
        },
    ],
});
cy.on("tap", "node", (event) => select(event.target.id()));

/** The element with `id`, as last drawn. */
const elementById = (id: string) => elements.find((e) => e.data.id === id);

function fileText(file: string): string {
    if (file === interconnectsFile) {
        return files.interconnects ?? "";
    }
    const stack = stackOfFile(file)!;
    return files.stacks[stack];
}

function setFileText(file: string, text: string): void {
    if (file === interconnectsFile) {
        files = { ...files, interconnects: text };
    } else {
        const stack = stackOfFile(file)!;
        files = { ...files, stacks: { ...files.stacks, [stack]: text } };
    }
}

/** Plans the files as they are now and redraws everything that depends on the plan. */
function replan(): void {
    const started = performance.now();
    planned = planFiles(files);
    changes = planChanges(committedPlan, planned);
    elements = graphOf(files, planned, changes, committedPlan);
    lastPlanMs = performance.now() - started;
    drawGraph();
    drawElementList();
    drawProblems();
    drawChange();
    drawAddresses();
    drawPlacement();
    drawInspector();
    drawExport();
    const problems =
        planned.sites.filter((s) => s.problems).length + (planned.interconnectProblems ? 1 : 0);
    $("wb-status").textContent =
        `Planned ${planned.sites.length} sites in ${Math.round(lastPlanMs)} ms: ${problems === 0 ? "no problems" : `${problems} with problems`}, ${changes.length} change${changes.length === 1 ? "" : "s"} against the committed files.`;
}

function drawGraph(): void {
    cy.batch(() => {
        cy.elements().remove();
        cy.add(elements.map((e) => ({ ...e, data: { ...e.data } })));
        if (selected && cy.getElementById(selected).nonempty()) {
            cy.getElementById(selected).select();
        }
    });
}

function drawElementList(): void {
    const list = $("wb-elements");
    list.replaceChildren(
        ...elements
            .filter((e) => e.group === "nodes")
            .map((e) =>
                el(
                    "li",
                    {},
                    el(
                        "button",
                        {
                            type: "button",
                            "data-id": e.data.id,
                            class: `kind-${e.data.kind}${e.data.change ? ` change-${e.data.change}` : ""}`,
                            "aria-pressed": String(e.data.id === selected),
                        },
                        `${e.data.kind} ${e.data.id.replace(/^[a-z]+:/, "")}${e.data.change ? ` (${e.data.change})` : ""}`,
                    ),
                ),
            ),
    );
}

function drawProblems(): void {
    const texts = [
        ...(planned.interconnectProblems ? [planned.interconnectProblems] : []),
        ...planned.sites.filter((s) => s.problems).map((s) => `${s.stack}: ${s.problems}`),
    ];
    $("wb-problems").replaceChildren(
        ...(texts.length === 0
            ? [el("p", {}, "No problems: every site plans.")]
            : texts.map((t) => el("pre", { class: "problem" }, t))),
    );
}

function drawChange(): void {
    const rows = changes.map((c) =>
        el(
            "tr",
            { class: `change-${c.action}`, "data-what": `${c.site}/${c.what}` },
            el("td", {}, c.site),
            el("td", {}, c.kind),
            el("td", {}, c.what),
            el("td", {}, c.action),
            el("td", {}, c.reasons.join("; ")),
        ),
    );
    $("wb-change").replaceChildren(
        changes.length === 0
            ? el("p", {}, "No change against the committed files.")
            : el(
                  "table",
                  {},
                  el(
                      "thead",
                      {},
                      el(
                          "tr",
                          {},
                          ...["Site", "Kind", "What", "Action", "Why"].map((h) => el("th", {}, h)),
                      ),
                  ),
                  el("tbody", {}, ...rows),
              ),
    );
}

function drawAddresses(): void {
    const blocks = planned.sites.flatMap((site) =>
        (site.plan?.site.networks ?? []).map((network) => {
            const used = (site.plan?.clusters ?? []).flatMap((c) =>
                c.nodes.flatMap((n) =>
                    n.interfaces
                        .filter((i) => i.network === network.name)
                        .map((i) => `${i.ip} ${c.name}/${n.name}`),
                ),
            );
            return el(
                "details",
                { open: "" },
                el(
                    "summary",
                    {},
                    `${site.stack} ${network.name} ${network.cidr}: ${used.length} addresses`,
                ),
                el("pre", { "data-network": `${site.stack}/${network.name}` }, used.join("\n")),
            );
        }),
    );
    const cidrs = planned.sites
        .filter((site) => site.plan)
        .map((site) =>
            el(
                "pre",
                { "data-cidrs": site.stack },
                site
                    .plan!.clusters.map(
                        (c) => `${c.name} pod ${c.podCidr} service ${c.serviceCidr}`,
                    )
                    .join("\n"),
            ),
        );
    $("wb-addresses").replaceChildren(...cidrs, ...blocks);
}

function drawPlacement(): void {
    $("wb-placement").replaceChildren(
        ...planned.sites
            .filter((s) => s.plan)
            .map((s) => el("pre", { "data-site": s.stack }, renderExplanation(s.stack, s.plan!))),
    );
}

/** The download links' object URLs, released when the links are drawn anew. */
let downloadUrls: string[] = [];

function drawExport(): void {
    downloadUrls.forEach((url) => URL.revokeObjectURL(url));
    downloadUrls = [];
    const out = exportedFiles(files, committed);
    const names = Object.keys(out);
    $("wb-export").replaceChildren(
        names.length === 0
            ? el("p", {}, "Nothing to export: the files are as committed.")
            : el(
                  "p",
                  {},
                  `Changed: ${names.join(", ")}. Stack files as \`npm run lock\` writes them; commit them in a pull request.`,
              ),
        ...names.map((name) => {
            const text = el("textarea", {
                readonly: "",
                rows: "8",
                "data-file": name,
                "aria-label": `${name} to commit`,
            });
            text.value = out[name];
            const download = el(
                "a",
                { download: name, class: "button", "data-download": name },
                `Download ${name}`,
            );
            const url = URL.createObjectURL(new Blob([out[name]], { type: "text/yaml" }));
            downloadUrls.push(url);
            download.setAttribute("href", url);
            const copy = el("button", { type: "button", "data-copy": name }, `Copy ${name}`);
            const copied = el("span", { role: "status" });
            copy.addEventListener("click", () => {
                navigator.clipboard.writeText(out[name]).then(
                    () => (copied.textContent = "copied"),
                    // Without the clipboard (a browser may refuse it to a file), select the text.
                    () => {
                        text.select();
                        copied.textContent = "selected: copy it with Ctrl+C";
                    },
                );
            });
            return el(
                "div",
                { class: "export" },
                el("h4", {}, name),
                download,
                " ",
                copy,
                copied,
                text,
            );
        }),
    );
}

/** What the inspector shows, last drawn: it is drawn anew only when that changes. */
let inspected = "";

/** The details of the selected element and the form that edits its entry in the files. */
function drawInspector(): void {
    const pane = $("wb-inspector");
    const element = selected ? elementById(selected) : undefined;
    // Typing elsewhere must not throw away what is typed in the form, unapplied.
    const shown = JSON.stringify([
        element?.data,
        element?.data.file && element.data.path
            ? fieldsAt(fileText(element.data.file), element.data.path)
            : [],
        element ? nodeOf(element) : undefined,
    ]);
    if (shown === inspected) {
        return;
    }
    inspected = shown;
    if (!element) {
        pane.replaceChildren(
            el("p", { class: "meta" }, "Select an element in the graph or the list."),
        );
        return;
    }
    const parts: Node[] = [
        el("h3", {}, `${element.data.kind} ${element.data.id.replace(/^[a-z]+:/, "")}`),
    ];
    if (element.data.change) {
        parts.push(el("p", { class: `badge change-${element.data.change}` }, element.data.change));
    }
    const nodeDetail = nodeDetails(element);
    if (nodeDetail) {
        parts.push(nodeDetail);
    }
    const committedDetail = data.details[element.data.id];
    if (committedDetail) {
        parts.push(
            el(
                "p",
                {},
                el("a", { href: `#${committedDetail}` }, "Manifests in the committed plan"),
            ),
        );
    }
    const { file, path } = element.data;
    if (file && path) {
        parts.push(editForm(file, path));
    }
    pane.replaceChildren(...parts);
}

/** A node element's plan and placement, as the current plan has them; null when it has none. */
function nodeOf(element: GraphElement) {
    const match = /^node:([^/]+)\/([^/]+)\/(.+)$/.exec(element.data.id);
    if (!match) {
        return undefined;
    }
    const [, stack, clusterName, nodeName] = match;
    const plan = planned.sites.find((s) => s.stack === stack)?.plan;
    const node = plan?.clusters
        .find((c) => c.name === clusterName)
        ?.nodes.find((n) => n.name === nodeName);
    const decision = plan?.placement.decisions.find(
        (d) => d.cluster === clusterName && d.node === nodeName,
    );
    return node ? { node, decision } : null;
}

/** A node's size, addresses, host and VM, as the current plan has them. */
function nodeDetails(element: GraphElement): Node | undefined {
    const found = nodeOf(element);
    if (found === undefined) {
        return undefined;
    }
    if (found === null) {
        return el("p", {}, "Not in the current plan.");
    }
    const { node, decision } = found;
    // A VM is pinned to its host (node.host) only when the site has a choice of hosts.
    const host = decision?.host ?? node.host;
    return el(
        "div",
        { class: "node-detail" },
        el(
            "p",
            {},
            `${node.vmName}: ${node.cpu} CPU · ${node.memory} · ${node.disk} · ${node.image} · ${node.roles.join(", ")}`,
        ),
        el("ul", {}, ...node.interfaces.map((i) => el("li", {}, `${i.network} ${i.ip} ${i.mac}`))),
        el(
            "p",
            { "data-host": host ?? "" },
            `Host: ${host ?? "the scheduler chooses"}${decision ? ` (${decision.how}: ${decision.reason})` : ""}`,
        ),
        el(
            "details",
            {},
            el("summary", {}, "VirtualMachine"),
            el("pre", {}, stringify(node.virtualMachine, { lineWidth: 0 })),
        ),
    );
}

function editForm(file: string, path: (string | number)[]): HTMLElement {
    const form = el("form", { class: "fields", "aria-label": `Edit in ${file}` });
    for (const field of fieldsAt(fileText(file), path)) {
        const input = el("input", { name: field.key, "data-key": field.key, autocomplete: "off" });
        input.value = field.text;
        form.append(el("label", {}, el("span", {}, field.key), input));
    }
    const newKey = el("input", {
        name: "new-key",
        "data-action": "new-key",
        "aria-label": "New field name",
        placeholder: "field",
        autocomplete: "off",
    });
    const newValue = el("input", {
        name: "new-value",
        "data-action": "new-value",
        "aria-label": "New field value",
        placeholder: "value (YAML)",
        autocomplete: "off",
    });
    form.append(el("label", { class: "new-field" }, el("span", {}, "add"), newKey, newValue));
    const apply = el("button", { type: "submit", "data-action": "apply" }, "Apply");
    const duplicate = el("button", { type: "button", "data-action": "duplicate" }, "Duplicate");
    const remove = el("button", { type: "button", "data-action": "remove" }, "Remove");
    form.append(
        el("div", { class: "actions" }, apply, duplicate, remove),
        el("p", { class: "form-error", role: "alert" }),
    );
    /** Makes one edit of the file, or says why not (a file with YAML errors is not rewritten). */
    const change = (make: (text: string) => string) => {
        [...pendingTyping.values()].forEach((takeIn) => takeIn());
        let text: string;
        try {
            text = make(fileText(file));
        } catch (error) {
            form.querySelector(".form-error")!.textContent =
                `Not applied: ${error instanceof Error ? error.message : String(error)}`;
            return;
        }
        edit(file, text);
    };
    form.addEventListener("submit", (event) => {
        event.preventDefault();
        change((text) => {
            for (const input of Array.from(
                form.querySelectorAll<HTMLInputElement>("input[data-key]"),
            )) {
                const before = fieldsAt(text, path).find((f) => f.key === input.dataset.key)?.text;
                if (before !== input.value) {
                    text = setField(text, path, input.dataset.key!, input.value);
                }
            }
            return newKey.value.trim() === ""
                ? text
                : setField(text, path, newKey.value.trim(), newValue.value);
        });
    });
    duplicate.addEventListener("click", () =>
        change((text) => {
            const copy = duplicateEntry(text, path);
            if (!copy) {
                throw new Error("only an entry of a list can be duplicated");
            }
            return copy.text;
        }),
    );
    remove.addEventListener("click", () =>
        change((text) => {
            const removed = removeEntry(text, path);
            selected = undefined;
            return removed;
        }),
    );
    return form;
}

/** A change to one file, from the form or the editor: re-planned at once. */
function edit(file: string, text: string): void {
    setFileText(file, text);
    const editor = document.querySelector<HTMLTextAreaElement>(`textarea[data-editor="${file}"]`);
    if (editor && editor.value !== text) {
        editor.value = text;
    }
    // The form is drawn anew: keep the keyboard where it was.
    const focused = document.activeElement as HTMLElement | null;
    const again = focused?.dataset.key
        ? `[data-key="${CSS.escape(focused.dataset.key)}"]`
        : focused?.dataset.action
          ? `[data-action="${focused.dataset.action}"]`
          : undefined;
    replan();
    const target = again ? $("wb-inspector").querySelector<HTMLElement>(again) : null;
    (target ?? (selected ? null : $("wb-elements").querySelector<HTMLElement>("button")))?.focus();
}

function select(id: string | undefined): void {
    selected = id;
    cy.elements().unselect();
    if (id && cy.getElementById(id).nonempty()) {
        cy.getElementById(id).select();
    }
    drawElementList();
    drawInspector();
}

/** What was typed in each file and not yet planned: taken in before any other edit. */
const pendingTyping = new Map<string, () => void>();

function drawEditors(): void {
    const names = [
        ...Object.keys(files.stacks).sort().map(stackFilePath),
        ...(files.interconnects !== undefined ? [interconnectsFile] : []),
    ];
    pendingTyping.clear();
    $("wb-files").replaceChildren(
        ...names.map((name) => {
            const editor = el("textarea", {
                "data-editor": name,
                rows: "20",
                spellcheck: "false",
                "aria-label": `${name}, as edited`,
            });
            editor.value = fileText(name);
            // Planned as the person types, once they pause.
            let timer: ReturnType<typeof setTimeout> | undefined;
            editor.addEventListener("input", () => {
                clearTimeout(timer);
                pendingTyping.set(name, () => {
                    clearTimeout(timer);
                    pendingTyping.delete(name);
                    setFileText(name, editor.value);
                });
                timer = setTimeout(() => {
                    pendingTyping.get(name)?.();
                    replan();
                }, 150);
            });
            return el("details", {}, el("summary", {}, name), editor);
        }),
    );
}

$("wb-elements").addEventListener("click", (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-id]");
    if (button) {
        select(button.dataset.id);
        $("wb-inspector").querySelector<HTMLElement>("input, a")?.focus();
    }
});
$("wb-reset").addEventListener("click", () => {
    files = structuredClone(committed);
    selected = undefined;
    drawEditors();
    replan();
});

drawEditors();
replan();
cy.fit(undefined, 20);

/** For the tests and the console: what the workbench holds now. */
(window as unknown as { edgeWorkbench: unknown }).edgeWorkbench = {
    graph: () => cy.nodes().map((n) => ({ id: n.id(), change: n.data("change") ?? null })),
    edges: () => cy.edges().map((e) => e.id()),
    planMs: () => lastPlanMs,
    /** Where an element is drawn, in the page's coordinates. */
    center: (id: string) => {
        const box = $("wb-graph").getBoundingClientRect();
        const { x, y } = cy.getElementById(id).renderedPosition();
        return { x: box.left + x, y: box.top + y };
    },
    files: () => files,
    select,
    edit,
};
