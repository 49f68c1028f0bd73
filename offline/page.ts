import { ipToInt } from "../lib/core";
import {
    AddressState,
    ChangeMark,
    ClusterView,
    HostUseView,
    HostView,
    NetworkView,
    NodeView,
    LinkView,
    PageModel,
    SiteView,
    nearlyFullPercent,
    placementLabels,
    strongestAction,
} from "./viewModel";
import type { WorkbenchFiles } from "./workbench";
import type { LiveStateView } from "./liveState";

/**
 * The topology page: one self-contained HTML file from the page model (offline/viewModel.ts).
 * Styles and the little script it has are inline, it fetches nothing (its Content-Security-Policy
 * forbids it), and every view is plain HTML, so it works without the script: details open as
 * link targets, and the table is reachable with the keyboard. The script only adds the search.
 */

const escapes: Record<string, string> = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
};

function esc(value: unknown): string {
    return String(value).replace(/[&<>"']/g, (c) => escapes[c]);
}

/** An HTML id for a view id (`greece/final-test/worker1`). */
export function anchor(kind: "d" | "net" | "site" | "host", id: string): string {
    return `${kind}-${id.replace(/[^A-Za-z0-9-]/g, "_")}`;
}

const stateLabels: Record<AddressState, string> = {
    pinned: "pinned",
    recorded: "recorded",
    new: "newly assigned",
};

function changeBadge(changes: ChangeMark[]): string {
    const action = strongestAction(changes);
    return action ? ` <span class="badge change-${action}">${action}</span>` : "";
}

function changeList(changes: ChangeMark[]): string {
    if (changes.length === 0) {
        return "";
    }
    const items = changes.map(
        (c) =>
            `<li class="change-${c.action}">${esc(c.action)} ${esc(c.resource)}${c.reasons.length ? `: ${esc(c.reasons.join("; "))}` : ""}</li>`,
    );
    return `<h4>Change</h4><ul class="changes">${items.join("")}</ul>`;
}

function nodeCard(node: NodeView): string {
    const search = [node.name, node.vmName, ...node.nics.flatMap((n) => [n.ip, n.mac])].join(" ");
    const roles = node.roles.map((r) => `role-${r}`).join(" ");
    const nics = node.nics
        .map(
            (n) =>
                `<li><span class="net">${esc(n.network)}</span> <span class="ip">${esc(n.ip)}</span> <span class="mac">${esc(n.mac)}</span></li>`,
        )
        .join("");
    return [
        `<a class="node ${roles}" href="#${anchor("d", node.id)}" data-id="${esc(node.id)}" data-search="${esc(search)}"${strongestAction(node.changes) ? ` data-change="${strongestAction(node.changes)}"` : ""}>`,
        `<strong>${esc(node.name)}</strong>${changeBadge(node.changes)}`,
        `<span class="roles">${esc(node.roles.join(", "))}</span>`,
        `<span class="size">${esc(node.cpu)} CPU · ${esc(node.memory)} · ${esc(node.disk)} · ${esc(node.image)}</span>`,
        `<ul class="nics">${nics}</ul>`,
        `</a>`,
    ].join("");
}

function clusterBox(cluster: ClusterView): string {
    const deleted = cluster.deletedNodes.map(
        (vm) => `<div class="node deleted" data-change="delete">${esc(vm)} (deleted)</div>`,
    );
    return [
        `<div class="cluster" data-id="${esc(cluster.id)}"${strongestAction(cluster.changes) ? ` data-change="${strongestAction(cluster.changes)}"` : ""}>`,
        `<h3><a href="#${anchor("d", cluster.id)}">${esc(cluster.name)}</a>${changeBadge(cluster.changes)}</h3>`,
        `<p class="meta">${esc(cluster.type)} ${esc(cluster.kubernetesVersion)} · ${esc(cluster.cni)} · pods ${esc(cluster.podCidr)} · services ${esc(cluster.serviceCidr)}<br>API ${esc(cluster.apiEndpoint)}</p>`,
        `<div class="nodes">${cluster.nodes.map(nodeCard).join("")}${deleted.join("")}</div>`,
        `</div>`,
    ].join("");
}

function topology(site: SiteView): string {
    const networks = site.networks
        .map(
            (n) =>
                `<li class="network" data-id="${esc(n.id)}"><a href="#${anchor("net", n.id)}">${esc(n.name)}</a> ${n.sriov ? `SR-IOV ${esc(n.sriov.resourceName)}` : `bridge ${esc(n.bridge)}`}${n.vlan === undefined ? "" : ` VLAN ${esc(n.vlan)}`} · ${esc(n.cidr)} · gateway ${esc(n.gateway)}</li>`,
        )
        .join("");
    const deleted = site.deletedClusters.map(
        (c) =>
            `<div class="cluster deleted" data-change="delete"><h3>${esc(c)} (deleted)</h3></div>`,
    );
    return [
        `<article class="site" id="${anchor("site", site.id)}" data-id="${esc(site.id)}">`,
        `<h2>${esc(site.name)}${changeBadge(site.changes)}</h2>`,
        `<p class="meta">host nodes ${esc(site.hostNodeIps.join(", ") || "none")} · DNS ${esc(site.dnsServers.join(", "))} · images ${esc(site.images.map((i) => `${i.name} (${i.size})`).join(", "))}</p>`,
        `<ul class="networks">${networks}</ul>`,
        `<div class="clusters">${site.clusters.map(clusterBox).join("")}${deleted.join("")}</div>`,
        `</article>`,
    ].join("");
}

function link(view: LinkView): string {
    const ends = view.ends
        .map(
            (end) =>
                `<li data-site="${esc(end.site)}"><strong>${esc(end.site)}</strong> gateway ${esc(end.gateway)} on ${esc(end.network)}, tunnel ${esc(end.tunnelAddress)}; offers ${esc(end.prefixes.join(", "))}</li>`,
        )
        .join("");
    return `<div class="link" data-id="${esc(view.id)}"><h3>Interconnect ${esc(view.name)} <span class="meta">WireGuard, MTU <span class="mtu">${view.mtu}</span></span></h3><ul class="ends">${ends}</ul></div>`;
}

function addressStrip(network: NetworkView): string {
    const first = ipToInt(network.range.first);
    const marks = network.addresses
        .map((a) => {
            const left = ((ipToInt(a.ip) - first) / network.counts.size) * 100;
            const change = a.change ? ` data-change="${a.change}"` : "";
            return `<a class="mark ${a.state}" href="#${anchor("d", a.node)}" style="left:${left.toFixed(2)}%" title="${esc(`${a.ip} ${stateLabels[a.state]}${a.change ? `, ${a.change}` : ""}`)}" data-ip="${esc(a.ip)}" data-id="${esc(a.node)}"${change}></a>`;
        })
        .join("");
    const counts = (["pinned", "recorded", "new", "reserved", "free"] as const)
        .map(
            (state) =>
                `<span class="count ${state}" data-count="${state}">${network.counts[state]} ${state === "new" ? "newly assigned" : state}</span>`,
        )
        .join(" ");
    return [
        `<div class="strip-block${network.nearlyFull ? " warn" : ""}" id="${anchor("net", network.id)}" data-id="${esc(network.id)}">`,
        `<h4>${esc(network.name)} ${esc(network.range.first)}–${esc(network.range.last)} (${network.counts.size} addresses, ${network.usedPercent}% used${network.nearlyFull ? ", nearly full" : ""})</h4>`,
        `<div class="strip">${marks}</div>`,
        `<p class="counts">${counts}</p>`,
        `</div>`,
    ].join("");
}

function addresses(site: SiteView): string {
    const pool = site.pool;
    const blocks = pool.blocks
        .map(
            (b) =>
                `<span class="block ${b.kind}${b.overlaps.length ? " overlap" : ""}" style="left:${b.offsetPercent}%;width:${Math.max(b.widthPercent, 0.3)}%" title="${esc(`${b.kind} ${b.cidr}`)}"></span>`,
        )
        .join("");
    const rows = pool.blocks
        .map(
            (b) =>
                `<li class="${b.kind}${b.overlaps.length ? " overlap" : ""}">${esc(b.cidr)} ${esc(b.kind)}${b.kind === "reserved" ? "" : ` of ${esc(b.owner.split("/").pop())}`}${b.overlaps.length ? ` — overlaps ${esc(b.overlaps.join(", "))}` : ""}</li>`,
        )
        .join("");
    return [
        `<article class="site-addresses" data-id="${esc(site.id)}">`,
        `<h2>${esc(site.name)}</h2>`,
        ...site.networks.map(addressStrip),
        `<div class="pool-block${pool.nearlyFull ? " warn" : ""}">`,
        `<h4>CIDR pool ${esc(pool.cidr)} (${pool.usedPercent}% used${pool.nearlyFull ? ", nearly exhausted" : ""})</h4>`,
        `<div class="pool">${blocks}</div>`,
        `<ul class="blocks">${rows}</ul>`,
        pool.reservedOutside.length
            ? `<p class="meta">reserved outside the pool: ${esc(pool.reservedOutside.join(", "))}</p>`
            : "",
        `</div>`,
        `</article>`,
    ].join("");
}

/** One resource of a host: a bar as wide as its share in use, and the amounts in words. */
function usageRow(use: HostUseView): string {
    const state = use.over ? " over" : use.nearlyFull ? " warn" : "";
    return [
        `<tr class="use${state}" data-resource="${esc(use.resource)}">`,
        `<th scope="row">${esc(use.label)}</th>`,
        `<td><span class="bar" aria-hidden="true"><span class="fill" style="width:${Math.min(use.usedPercent, 100)}%"></span></span></td>`,
        `<td class="use-text">${esc(use.text)}</td><td class="pct">${use.usedPercent}%</td>`,
        `</tr>`,
    ].join("");
}

function hostCard(host: HostView): string {
    const vms = host.vms
        .map(
            (vm) =>
                `<li><a href="#${anchor("d", vm.node)}" data-id="${esc(vm.node)}">${esc(vm.vmName)}</a> <span class="how">${esc(placementLabels[vm.how])}</span></li>`,
        )
        .join("");
    return [
        `<div class="host-card" id="${anchor("host", host.id)}" data-id="${esc(host.id)}">`,
        `<h4>${esc(host.name)}${host.zone === undefined ? "" : ` <span class="meta zone">zone ${esc(host.zone)}</span>`}</h4>`,
        `<table class="usage"><caption>What ${esc(host.name)} has and what its VMs take</caption><tbody>${host.use.map(usageRow).join("")}</tbody></table>`,
        host.vms.length
            ? `<ul class="vms" aria-label="VMs on ${esc(host.name)}">${vms}</ul>`
            : `<p class="meta vms-none">carries no VM the plan places</p>`,
        `</div>`,
    ].join("");
}

function hosts(site: SiteView): string {
    const unplaced = site.unplaced
        .map(
            (u) =>
                `<li data-id="${esc(u.node)}"><a href="#${anchor("d", u.node)}">${esc(u.vmName)}</a> <span class="meta">${esc(u.reason)}</span></li>`,
        )
        .join("");
    return [
        `<article class="site-hosts" data-id="${esc(site.id)}">`,
        `<h3>${esc(site.name)}</h3>`,
        site.hosts.length
            ? `<div class="hosts">${site.hosts.map(hostCard).join("")}</div>`
            : `<p class="meta">No host inventory (edge:site.hosts): nothing is placed.</p>`,
        unplaced
            ? `<div class="unplaced-block"><h4>Not placed</h4><p class="meta">The host cluster's scheduler chooses their hosts, so no host above counts them.</p><ul class="unplaced">${unplaced}</ul></div>`
            : "",
        `</article>`,
    ].join("");
}

function table(sites: SiteView[]): string {
    const rows = sites.flatMap((site) =>
        site.clusters.flatMap((cluster) =>
            cluster.nodes.flatMap((node) =>
                node.nics.map(
                    (nic) =>
                        `<tr data-id="${esc(node.id)}" data-search="${esc(`${node.name} ${node.vmName} ${nic.ip} ${nic.mac}`)}"><td>${esc(site.name)}</td><td>${esc(cluster.name)}</td><td><a href="#${anchor("d", node.id)}">${esc(node.name)}</a></td><td>${esc(node.roles.join(", "))}</td><td>${esc(nic.network)}</td><td>${esc(nic.ip)}</td><td>${esc(nic.mac)}</td><td>${esc(stateLabels[nic.state])}</td><td>${esc(strongestAction(node.changes) ?? "")}</td></tr>`,
                ),
            ),
        ),
    );
    return [
        `<table><caption>Every node's addresses</caption>`,
        `<thead><tr><th scope="col">site</th><th scope="col">cluster</th><th scope="col">node</th><th scope="col">roles</th><th scope="col">network</th><th scope="col">IP</th><th scope="col">MAC</th><th scope="col">address</th><th scope="col">change</th></tr></thead>`,
        `<tbody>${rows.join("")}</tbody></table>`,
    ].join("");
}

function resourceList(kind: string, names: string[], what: string): string {
    return names.length === 0
        ? ""
        : `<h4>${names.length} ${what}</h4><ul class="${kind}">${names.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`;
}

/** One site's live state: resources on either side only, each VM's condition, each cluster's. */
function liveState(state: LiveStateView): string {
    const vms = state.vms.map(
        (vm) =>
            `<tr data-vm="${esc(`${vm.namespace}/${vm.vmName}`)}"><td>${esc(vm.node)}</td><td>${esc(vm.vmName)}</td><td>${esc(vm.status)}</td><td>${esc(vm.ready)}</td><td>${esc(vm.since)}</td><td>${esc(vm.source)}</td></tr>`,
    );
    const clusters = state.clusters.map(
        (c) =>
            `<tr data-cluster="${esc(c.cluster)}"><td>${esc(c.cluster)}</td><td>${esc(c.rancherName)}</td><td>${esc(c.state)}</td><td>${c.rancherNodes ? esc(c.rancherNodes.join(", ")) : "(a secret in the state)"}</td></tr>`,
    );
    return [
        `<div class="site-state" id="${anchor("site", `state-${state.stack}`)}" data-stack="${esc(state.stack)}">`,
        `<h3>${esc(state.stack)}${state.exportedAt ? ` <span class="meta">state exported ${esc(state.exportedAt)}</span>` : ""}</h3>`,
        `<p class="state-counts">${state.inBoth} resources in both the plan and the state; ${state.onlyInState.length} only in the state; ${state.onlyInPlan.length} only in the plan.</p>`,
        resourceList(
            "only-state",
            state.onlyInState,
            "only in the state: the next up deletes them",
        ),
        resourceList("only-plan", state.onlyInPlan, "only in the plan: the next up creates them"),
        `<table class="live-vms"><caption>Node VMs</caption><thead><tr><th>Node</th><th>VM</th><th>Status</th><th>Ready</th><th>Since</th><th>From</th></tr></thead><tbody>${vms.join("")}</tbody></table>`,
        `<table class="live-clusters"><caption>Rancher clusters, at the last up or refresh</caption><thead><tr><th>Cluster</th><th>Rancher</th><th>State</th><th>Rancher's nodes</th></tr></thead><tbody>${clusters.join("")}</tbody></table>`,
        `</div>`,
    ].join("");
}

function changeTable(sites: SiteView[]): string {
    const rows = sites.flatMap((site) => {
        const marks = [
            ...site.changes.map((c) => ({ owner: site.name, c })),
            ...site.clusters.flatMap((cluster) => [
                ...cluster.changes.map((c) => ({ owner: cluster.name, c })),
                ...cluster.nodes.flatMap((node) =>
                    node.changes.map((c) => ({ owner: `${cluster.name}/${node.name}`, c })),
                ),
            ]),
        ];
        return marks.map(
            ({ owner, c }) =>
                `<tr class="change-${c.action}" data-change="${c.action}"><td>${esc(site.name)}</td><td>${esc(owner)}</td><td>${esc(c.action)}</td><td>${esc(c.resource)}</td><td>${esc(c.reasons.join("; "))}</td></tr>`,
        );
    });
    return [
        `<table class="change-table"><caption>Resources the change touches</caption>`,
        `<thead><tr><th scope="col">site</th><th scope="col">belongs to</th><th scope="col">action</th><th scope="col">resource</th><th scope="col">why</th></tr></thead>`,
        `<tbody>${rows.join("")}</tbody></table>`,
    ].join("");
}

function placementDetail(node: NodeView): string {
    const placement = node.placement;
    if (!placement) {
        return "";
    }
    const host =
        placement.hostId === undefined
            ? "not placed"
            : `<a href="#${anchor("host", placement.hostId)}">${esc(placement.host)}</a>`;
    return [
        `<dt>host</dt><dd class="placement-host">${host} (${esc(placement.howLabel)})</dd>`,
        placement.pool === undefined ? "" : `<dt>pool</dt><dd>${esc(placement.pool)}</dd>`,
        `<dt>placement</dt><dd class="placement-reason">${esc(placement.reason)}</dd>`,
        placement.rejected.length
            ? `<dt>other hosts</dt><dd><ul class="rejected">${placement.rejected.map((r) => `<li>${esc(r.host)} ${esc(r.reason)}</li>`).join("")}</ul></dd>`
            : "",
    ].join("");
}

function nodeDetail(node: NodeView): string {
    const nics = node.nics
        .map(
            (n) =>
                `<tr><td>${esc(n.network)}</td><td class="ip">${esc(n.ip)}</td><td class="mac">${esc(n.mac)}</td><td>${esc(stateLabels[n.state])}</td></tr>`,
        )
        .join("");
    return [
        `<section class="detail" id="${anchor("d", node.id)}" data-id="${esc(node.id)}">`,
        `<h3>Node ${esc(node.name)} <small>of ${esc(node.cluster)}</small></h3>`,
        `<dl><dt>VM</dt><dd>${esc(node.vmName)}</dd><dt>roles</dt><dd>${esc(node.roles.join(", "))}</dd>`,
        `<dt>size</dt><dd>${esc(node.cpu)} CPU, ${esc(node.memory)} memory, ${esc(node.disk)} disk</dd><dt>image</dt><dd>${esc(node.image)}</dd>`,
        placementDetail(node),
        `<dt>registration flags</dt><dd><code>${esc(node.registration)}</code></dd></dl>`,
        `<table><thead><tr><th scope="col">network</th><th scope="col">IP</th><th scope="col">MAC</th><th scope="col">address</th></tr></thead><tbody>${nics}</tbody></table>`,
        changeList(node.changes),
        `<h4>cloud-init user-data (credentials as placeholders)</h4><pre>${esc(node.userData)}</pre>`,
        `<h4>network-data</h4><pre>${esc(node.networkData)}</pre>`,
        ...node.manifests.map(
            (m) =>
                `<details><summary>${esc(m.kind)} ${esc(m.name)}</summary><pre>${esc(m.yaml)}</pre></details>`,
        ),
        `</section>`,
    ].join("");
}

function clusterDetail(cluster: ClusterView): string {
    return [
        `<section class="detail" id="${anchor("d", cluster.id)}" data-id="${esc(cluster.id)}">`,
        `<h3>Cluster ${esc(cluster.name)}</h3>`,
        `<dl><dt>Rancher name</dt><dd>${esc(cluster.rancherName)}</dd><dt>distribution</dt><dd>${esc(cluster.type)} ${esc(cluster.kubernetesVersion)}</dd>`,
        `<dt>CNI</dt><dd>${esc(cluster.cni)}</dd><dt>namespace</dt><dd>${esc(cluster.namespace)}</dd>`,
        `<dt>pod CIDR</dt><dd>${esc(cluster.podCidr)}</dd><dt>service CIDR</dt><dd>${esc(cluster.serviceCidr)}</dd>`,
        `<dt>API endpoint</dt><dd>${esc(cluster.apiEndpoint)}</dd>`,
        `<dt>nodes</dt><dd>${cluster.nodes.map((n) => `<a href="#${anchor("d", n.id)}">${esc(n.name)}</a>`).join(", ")}</dd></dl>`,
        changeList(cluster.changes),
        `</section>`,
    ].join("");
}

const style = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{position:sticky;top:0;z-index:2;background:#20303f;color:#fff;padding:.5rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header a{color:#cfe3ff}header h1{font-size:1.1rem;margin:0}
main{margin-right:34rem;padding:0 1rem 4rem}
section.view>h2{border-bottom:2px solid #20303f}
.site,.site-addresses{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.link{background:#fff;border:2px dashed #8250df;border-radius:6px;padding:.25rem 1rem;margin:1rem 0}
.clusters{display:flex;flex-wrap:wrap;gap:1rem}.cluster{border:1px solid #8aa;border-radius:6px;padding:.25rem .75rem;background:#f3f8f8}
.nodes{display:flex;flex-wrap:wrap;gap:.5rem}.node{display:block;border:2px solid #999;border-radius:6px;padding:.25rem .5rem;color:inherit;text-decoration:none;background:#fff;min-width:12rem}
.node>span{display:block}.node .badge{display:inline}.node:focus{outline:3px solid #0969da}.node.role-controlplane{border-color:#1f6feb}.node.role-etcd{background:#fff8e1}.node.role-worker:not(.role-controlplane){border-color:#2da44e}
.nics{margin:.25rem 0 0;padding-left:1rem;font-family:monospace;font-size:12px}
.meta{color:#57606a}.badge{font-size:11px;border-radius:3px;padding:0 .3rem;margin-left:.4rem;color:#fff}
.change-create{background:#2da44e}.change-update{background:#bf8700}.change-replace{background:#cf222e}.change-delete{background:#6e7781}
li.change-create,li.change-update,li.change-replace,li.change-delete,tr.change-create,tr.change-update,tr.change-replace,tr.change-delete{color:#fff}
[data-change]{box-shadow:0 0 0 3px #cf222e55}.deleted{opacity:.6;text-decoration:line-through}
.strip,.pool{position:relative;height:22px;background:#e6ebf0;border:1px solid #aab;border-radius:3px}
.mark{position:absolute;top:0;bottom:0;width:4px;margin-left:-2px}.mark.pinned{background:#1f6feb}.mark.recorded{background:#2da44e}.mark.new{background:#bf8700}
.count.pinned{color:#1f6feb}.count.recorded{color:#2da44e}.count.new{color:#bf8700}
.block{position:absolute;top:0;bottom:0}.block.pod{background:#1f6feb99}.block.service{background:#8250df99}.block.reserved{background:repeating-linear-gradient(45deg,#6e7781,#6e7781 3px,#d0d7de 3px,#d0d7de 6px)}
.overlap,.warn h4{color:#cf222e;font-weight:bold}.block.overlap{outline:2px solid #cf222e}
table{border-collapse:collapse;background:#fff;margin:1rem 0}td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left}
tr.match,.node.match{background:#fff3b0}
aside{position:fixed;right:0;top:3rem;bottom:0;width:33rem;overflow:auto;background:#fff;border-left:1px solid #d0d7de;padding:0 1rem}
.detail{display:none}.detail:target{display:block}:target,section.view,.strip-block{scroll-margin-top:4.5rem}aside:not(:has(.detail:target)) .hint{display:block}.hint{display:none;color:#57606a}
pre{background:#f6f8fa;padding:.5rem;overflow:auto;font-size:12px}
.site-hosts{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.hosts{display:flex;flex-wrap:wrap;gap:1rem}.host-card{border:1px solid #8aa;border-radius:6px;padding:.25rem .75rem;background:#f3f8f8}.host-card:target{outline:3px solid #0969da}
.host-card h4{margin:.4rem 0}table.usage{margin:.25rem 0;background:none}.usage caption{text-align:left;color:#57606a;font-size:12px}.usage td,.usage th{border:0;padding:.1rem .4rem;font-weight:normal}
.bar{display:block;position:relative;width:9rem;height:12px;background:#e6ebf0;border:1px solid #aab;border-radius:3px;overflow:hidden}.bar .fill{position:absolute;left:0;top:0;bottom:0;background:#2da44e}
.use.warn .fill{background:#bf8700}.use.over .fill{background:#cf222e}.use.over td{color:#cf222e;font-weight:bold}.pct{color:#57606a;text-align:right}
.vms,.unplaced,.rejected{margin:.25rem 0;padding-left:1rem}.how{color:#57606a;font-size:12px}
#wb-graph{height:560px;background:#fff;border:1px solid #d0d7de;border-radius:6px}
#workbench details{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.25rem 1rem;margin:.5rem 0}#workbench summary{cursor:pointer;font-weight:bold}
#wb-inspector{background:#fff;border:2px solid #0969da;border-radius:6px;padding:.25rem 1rem;margin:.5rem 0}
#wb-elements{columns:3;list-style:none;padding:0}#wb-elements button{font-size:12px;background:none;border:0;cursor:pointer;text-align:left}#wb-elements button[aria-pressed=true]{font-weight:bold;outline:2px solid #0969da}
.fields label{display:flex;gap:.5rem;margin:.2rem 0}.fields label span{width:10rem;color:#57606a}.fields input{flex:1;font-family:monospace}.form-error{color:#cf222e}
#workbench textarea{width:100%;font-family:monospace;font-size:12px}pre.problem{color:#cf222e}a.button{display:inline-block;border:1px solid #0969da;border-radius:4px;padding:.1rem .5rem;margin:.25rem 0}
`;

/** Filters nodes and table rows by what the search box holds; Enter opens the first match. */
const script = `
const box = document.getElementById("search");
const status = document.getElementById("search-status");
box.addEventListener("input", () => {
  const q = box.value.trim().toLowerCase();
  let n = 0;
  for (const el of document.querySelectorAll("[data-search]")) {
    const hit = q !== "" && el.dataset.search.toLowerCase().includes(q);
    el.classList.toggle("match", hit);
    if (hit && el.classList.contains("node")) n++;
  }
  status.textContent = q === "" ? "" : n + (n === 1 ? " node" : " nodes");
});
box.addEventListener("keydown", (e) => {
  const first = document.querySelector(".node.match");
  if (e.key === "Enter" && first) { location.hash = first.getAttribute("href"); }
});
`;

/** The workbench: the files it edits, planned in the page by the bundled script. */
export interface WorkbenchInput {
    files: WorkbenchFiles;
    script: string;
}

/** JSON inside a <script> element: no `<` may close it early. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");

function workbench(model: PageModel, input: WorkbenchInput): string {
    // The committed plan's detail panes of each graph element that has one.
    const details: Record<string, string> = {};
    for (const site of model.sites) {
        for (const cluster of site.clusters) {
            details[`cluster:${cluster.id}`] = anchor("d", cluster.id);
            for (const node of cluster.nodes) {
                details[`node:${node.id}`] = anchor("d", node.id);
            }
        }
    }
    return [
        `<section class="view" id="workbench"><h2>Workbench</h2>`,
        `<p class="meta">Every site, planned in this page by the code <code>npm run plan</code> runs. Select an element in the graph or the list, change its fields, duplicate or remove it, or edit the files; the graph, problems, change, addresses and placement follow, and Export gives the files to commit. Nothing leaves the page.</p>`,
        `<p id="wb-status" role="status"></p><button type="button" id="wb-reset">Back to the committed files</button>`,
        `<div id="wb-graph" role="img" aria-label="Graph of the sites, networks, clusters, nodes, hosts and interconnects; the list below has every element"></div>`,
        `<div id="wb-inspector"></div>`,
        `<details open><summary>Elements</summary><ul id="wb-elements"></ul></details>`,
        `<details open><summary>Problems</summary><div id="wb-problems"></div></details>`,
        `<details open><summary>Change against the committed files</summary><div id="wb-change"></div></details>`,
        `<details><summary>Addresses</summary><div id="wb-addresses"></div></details>`,
        `<details><summary>Placement</summary><div id="wb-placement"></div></details>`,
        `<details><summary>Files</summary><div id="wb-files"></div></details>`,
        `<details open><summary>Export</summary><div id="wb-export"></div></details>`,
        `<script type="application/json" id="workbench-data">${scriptJson({ files: input.files, details })}</script>`,
        `</section>`,
    ].join("\n");
}

export function renderPage(model: PageModel, workbenchInput?: WorkbenchInput): string {
    const counts = model.changeCounts;
    const summary = counts
        ? `<p id="change-summary">${(["create", "update", "replace", "delete"] as const)
              .map(
                  (a) =>
                      `<span class="badge change-${a}" data-count="${a}">${counts[a]} to ${a}</span>`,
              )
              .join(" ")}</p>`
        : "";
    const details = model.sites.flatMap((site) =>
        site.clusters.flatMap((c) => [clusterDetail(c), ...c.nodes.map(nodeDetail)]),
    );
    const title = `Edge sites: ${model.sites.map((s) => s.name).join(", ")}`;
    return [
        "<!doctype html>",
        `<html lang="en"><head><meta charset="utf-8">`,
        // Nothing may be fetched: the page is whole as written.
        `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">`,
        `<title>${esc(title)}</title><style>${style}</style></head><body>`,
        `<header><h1>${esc(title)}</h1>`,
        `<nav>${workbenchInput ? `<a href="#workbench">Workbench</a> · ` : ""}<a href="#topology">Topology</a> · <a href="#addresses">Addresses</a> · <a href="#hosts">Hosts</a> · <a href="#table">Table</a>${counts ? ` · <a href="#change">Change</a>` : ""}${model.states ? ` · <a href="#state">Live state</a>` : ""}</nav>`,
        `<label>Search node, IP or MAC <input id="search" type="search" autocomplete="off"></label><span id="search-status" role="status"></span>`,
        summary,
        `</header><main>`,
        workbenchInput ? workbench(model, workbenchInput) : "",
        `<section class="view" id="topology"><h2>Topology</h2>${model.sites.map(topology).join("")}${model.links.map(link).join("")}</section>`,
        `<section class="view" id="addresses"><h2>Addresses</h2><p class="meta">Marks: <span class="count pinned">pinned</span>, <span class="count recorded">recorded</span>, <span class="count new">newly assigned</span>; pool blocks: pod, service, reserved (hatched).</p>${model.sites.map(addresses).join("")}</section>`,
        `<section class="view" id="hosts"><h2>Hosts</h2><p class="meta">What each host of the site's inventory has, and what the VMs placed on it take: bars fill green, amber from ${nearlyFullPercent}%, red beyond the host.</p>${model.sites.map(hosts).join("")}</section>`,
        `<section class="view" id="table"><h2>Table</h2>${table(model.sites)}</section>`,
        counts
            ? `<section class="view" id="change"><h2>Change</h2>${changeTable(model.sites)}</section>`
            : "",
        model.states
            ? `<section class="view" id="state"><h2>Live state</h2><p class="meta">What each stack's state (<code>pulumi stack export</code>) and, when read, its host cluster say is deployed, beside the plan. Only names, statuses and conditions are shown.</p>${model.states.map(liveState).join("")}</section>`
            : "",
        `</main><aside aria-label="Details"><h2>Details</h2><p class="hint">Select a cluster or node.</p>${details.join("")}</aside>`,
        `<script>${script}</script>`,
        workbenchInput ? `<script>${workbenchInput.script}</script>` : "",
        `</body></html>`,
        "",
    ].join("\n");
}
