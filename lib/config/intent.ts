import { intentNodeName, serverPoolName, ProblemList } from "../core";
import { shaped } from "./issues";
import { keyPath, reportDuplicates } from "./report";
import { RuleContext, checkHardware, checkImageAndDisk, unknownNetwork } from "./rules";
import { IntentShape, NodeRole, ServerPoolShape, WorkerPoolShape, intentSchema } from "./shape";
import { ClusterNode } from "./types";

/**
 * An intent says what a cluster needs: servers, pools of workers with their sizes and devices,
 * networks and spread. It expands here into ordinary nodes, with names that never change once
 * given (`<pool>-<number>`), which every other rule, the address plan and the manifests then treat
 * like hand-written ones; lib/plan/placement.ts chooses their hosts.
 */

type Pool = (ServerPoolShape | WorkerPoolShape) & { name: string; roles: NodeRole[] };

function pools(intent: IntentShape): { pool: Pool; path: string }[] {
    const { servers } = intent;
    const serverRoles: NodeRole[] = [
        "controlplane",
        "etcd",
        ...(servers.worker ? ["worker" as const] : []),
    ];
    return [
        { pool: { ...servers, name: serverPoolName, roles: serverRoles }, path: "servers" },
        ...intent.workers.map((pool, i) => ({
            pool: { ...pool, roles: ["worker" as const] },
            path: `workers[${i}]`,
        })),
    ];
}

/** The nodes of a pool, numbered from 1: shrinking a pool removes the highest-numbered. */
function poolNodes(pool: Pool, intent: IntentShape): ClusterNode[] {
    const {
        count,
        name,
        roles,
        image,
        sriov,
        worker: _worker,
        ...sizes
    } = pool as Pool & { worker?: boolean };
    return Array.from({ length: count }, (_, i) => ({
        ...sizes,
        name: intentNodeName(name, i + 1),
        roles,
        image: image ?? intent.image,
        networks: [...intent.networks, ...(sriov ?? [])].map((network) => ({ network })),
        hostSelector: {},
        pool: name,
    }));
}

/** An intent's networks: the site's bridge networks, each once. */
function checkIntentNetworks(
    intent: IntentShape,
    path: string,
    problems: ProblemList,
    site: RuleContext["site"],
): void {
    intent.networks.forEach((network, i) => {
        const unknown = site && unknownNetwork(network, site);
        if (unknown) {
            problems.add(`${keyPath(path, "networks")}[${i}]`, unknown);
        }
    });
    reportDuplicates(
        intent.networks.map((network, i) => ({
            value: network,
            path: `${keyPath(path, "networks")}[${i}]`,
        })),
        problems,
        "network",
    );
}

/** An intent's pools: an odd number of servers, a worker somewhere, distinct pool names. */
function checkIntentPools(intent: IntentShape, path: string, problems: ProblemList): void {
    if (intent.servers.count % 2 === 0) {
        // etcd needs a majority: an even count tolerates no more failures than one fewer.
        problems.add(
            keyPath(keyPath(path, "servers"), "count"),
            `${intent.servers.count} servers: etcd needs an odd number (1, 3, 5, 7)`,
        );
    }
    if (!intent.servers.worker && !intent.workers.some((pool) => pool.count > 0)) {
        problems.add(
            keyPath(path, "workers"),
            "needs a pool with at least one node, or servers.worker: true: Rancher waits for a node with the worker role",
        );
    }
    reportDuplicates(
        intent.workers.map((pool, i) => ({
            value: pool.name,
            path: `${keyPath(path, "workers")}[${i}].name`,
        })),
        problems,
        "pool name",
    );
    intent.workers.forEach((pool, i) => {
        if (pool.name === serverPoolName) {
            problems.add(
                `${keyPath(path, "workers")}[${i}].name`,
                `"${serverPoolName}" names the servers' pool`,
            );
        }
    });
}

/** A pool's SR-IOV networks: the site's SR-IOV networks, each once, none of the intent's. */
function checkPoolSriov(
    intent: IntentShape,
    networks: string[],
    at: string,
    problems: ProblemList,
    site: RuleContext["site"],
): void {
    reportDuplicates(
        networks.map((network, i) => ({ value: network, path: `${keyPath(at, "sriov")}[${i}]` })),
        problems,
        "network",
    );
    networks.forEach((network, i) => {
        const itemPath = `${keyPath(at, "sriov")}[${i}]`;
        const siteNetwork = site?.networks.find((n) => n.name === network);
        if (site && !siteNetwork) {
            problems.add(itemPath, unknownNetwork(network, site)!);
        } else if (siteNetwork && !siteNetwork.sriov) {
            problems.add(
                itemPath,
                `${network} is a bridge network; list it in the intent's networks`,
            );
        } else if (intent.networks.includes(network)) {
            problems.add(itemPath, `${network} is in the intent's networks already`);
        }
    });
}

/**
 * Reads a cluster's intent and expands it into nodes, or reports every problem at its path and
 * gives undefined.
 */
export function readIntent(
    value: unknown,
    path: string,
    problems: ProblemList,
    context: RuleContext,
): { intent: IntentShape; nodes: ClusterNode[] } | undefined {
    const intent = shaped(intentSchema, value, path, problems);
    if (!intent) {
        return undefined;
    }
    const before = problems.problems.length;
    const site = context.site;
    const hosts = site?.hosts ?? [];
    if (site && hosts.length === 0) {
        problems.add(path, "needs site.hosts: an intent's nodes are placed on the site's hosts");
    }
    checkIntentNetworks(intent, path, problems, site);
    checkIntentPools(intent, path, problems);
    for (const { pool, path: poolPath } of pools(intent)) {
        const at = keyPath(path, poolPath);
        const image = pool.image ?? intent.image;
        const imagePath = keyPath(pool.image === undefined ? path : at, "image");
        checkImageAndDisk(
            image,
            pool.disk,
            { image: imagePath, disk: keyPath(at, "disk") },
            problems,
            context,
        );
        checkHardware(pool, at, problems, hosts);
        checkPoolSriov(intent, pool.sriov ?? [], at, problems, site);
    }
    if (problems.problems.length > before) {
        return undefined;
    }
    return {
        intent,
        nodes: pools(intent).flatMap(({ pool }) => poolNodes(pool, intent)),
    };
}

/** The path of the pool that `node` of an intent comes from. */
export function poolPath(intent: IntentShape, pool: string): string {
    const worker = intent.workers.findIndex((p) => p.name === pool);
    return worker === -1 ? "intent.servers" : `intent.workers[${worker}]`;
}
