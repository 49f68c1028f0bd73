import { ChildProcess, execFileSync, spawn } from "child_process";
import { existsSync, mkdirSync, readFileSync } from "fs";
import * as path from "path";
import { GuestAgent } from "./agent";
import { sleep } from "./wait";

export const run = (...args: string[]) =>
    execFileSync(args[0], args.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** Runs `args` in network namespace `ns`, which must exit 0: its stdout. */
export const inside = (ns: string, ...args: string[]) => run("ip", "netns", "exec", ns, ...args);

/**
 * QEMU's accelerator: KVM where /dev/kvm runs stock guest kernels, else TCG. A PVM hypervisor
 * (the kvm_pvm module) opens /dev/kvm but runs no stock kernel; EDGE_GUEST_ACCEL overrides.
 */
export function accelerator(): "kvm" | "tcg" {
    const chosen = process.env.EDGE_GUEST_ACCEL;
    if (chosen === "kvm" || chosen === "tcg") {
        return chosen;
    }
    return existsSync("/dev/kvm") && !existsSync("/sys/module/kvm_pvm") ? "kvm" : "tcg";
}

/** A NIC on a site network: a tap on the site's bridge, with the MAC the plan gave the VM. */
export interface SiteNic {
    tap: string;
    mac: string;
}

export interface VmArgs {
    name: string;
    /** The network namespace QEMU runs in, where its taps are. */
    namespace: string;
    /** A directory of scripts/guest-images.sh: vmlinuz, initrd.img, root.img. */
    image: string;
    /** The NoCloud ISO (see seed.ts). */
    seed: string;
    /** The pod network NIC's MAC, from the plan. */
    podMac: string;
    nics: SiteNic[];
    /** Guest TCP ports on the masquerade address reachable at 127.0.0.1:<host> in `namespace`. */
    forwards?: { host: number; guest: number }[];
    /** Where the VM's files go: console.log, the agent's socket. */
    dir: string;
}

/**
 * A VM booted as KubeVirt boots a node: the image's kernel on its root disk (copy-on-write: the
 * cached image stays as built, and writes last across guest reboots), the NoCloud seed as a second
 * disk, the pod network first, as KubeVirt's masquerade binding gives it (QEMU's user network has
 * the same addresses: 10.0.2.2 for the guest by DHCP, 10.0.2.1 its gateway), then the site
 * networks' taps, and qemu-guest-agent's port.
 */
export class Vm {
    readonly agent: GuestAgent;
    readonly console: string;
    private process?: ChildProcess;

    constructor(readonly args: VmArgs) {
        mkdirSync(args.dir, { recursive: true });
        this.agent = new GuestAgent(path.join(args.dir, "qga.sock"));
        this.console = path.join(args.dir, "console.log");
    }

    start(): void {
        const { args } = this;
        const forwards = (args.forwards ?? [])
            .map((f) => `,hostfwd=tcp:127.0.0.1:${f.host}-10.0.2.2:${f.guest}`)
            .join("");
        const qemu = [
            "qemu-system-x86_64",
            "-name",
            args.name,
            "-machine",
            "q35",
            ...(accelerator() === "kvm"
                ? ["-accel", "kvm", "-cpu", "host"]
                : ["-accel", "tcg,thread=multi", "-cpu", "max"]),
            "-smp",
            "1",
            "-m",
            "1024",
            "-kernel",
            path.join(args.image, "vmlinuz"),
            "-initrd",
            path.join(args.image, "initrd.img"),
            "-append",
            "root=/dev/vda rw console=ttyS0",
            "-drive",
            `file=${path.join(args.image, "root.img")},format=raw,if=virtio,snapshot=on`,
            "-drive",
            `file=${args.seed},format=raw,if=virtio,readonly=on`,
            "-netdev",
            `user,id=pod,net=10.0.2.0/24,host=10.0.2.1,dhcpstart=10.0.2.2${forwards}`,
            "-device",
            `virtio-net-pci,netdev=pod,mac=${args.podMac}`,
            ...args.nics.flatMap((nic, i) => [
                "-netdev",
                `tap,id=site${i},ifname=${nic.tap},script=no,downscript=no`,
                "-device",
                `virtio-net-pci,netdev=site${i},mac=${nic.mac}`,
            ]),
            "-chardev",
            `socket,id=qga,path=${path.join(args.dir, "qga.sock")},server=on,wait=off`,
            "-device",
            "virtio-serial-pci",
            "-device",
            "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
            "-serial",
            `file:${this.console}`,
            "-display",
            "none",
            "-monitor",
            "none",
        ];
        this.process = spawn("ip", ["netns", "exec", args.namespace, ...qemu], {
            stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        this.process.stderr!.on("data", (chunk) => (stderr += chunk));
        this.process.on("exit", (code) => {
            if (code !== 0 && code !== null) {
                console.log(`    (${args.name}: qemu exited ${code}: ${stderr.trim()})`);
            }
        });
    }

    /** The last lines of the serial console, for failure messages. */
    consoleTail(lines = 40): string {
        if (!existsSync(this.console)) {
            return "(no console output)";
        }
        return readFileSync(this.console, "utf8").split("\n").slice(-lines).join("\n");
    }

    /** The guest's boot id, which changes with every boot. */
    bootId(): Promise<string> {
        return this.agent.run("cat /proc/sys/kernel/random/boot_id").then((id) => id.trim());
    }

    /** Reboots the guest from inside and waits for its agent in the next boot. */
    async reboot(timeoutMs: number): Promise<void> {
        const before = await this.bootId();
        // Not `sh`, which waits for an exit status the rebooting guest never reports.
        await this.agent.request("guest-exec", { path: "/bin/systemctl", arg: ["reboot"] });
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
            await sleep(10000);
            try {
                if ((await this.bootId()) !== before) {
                    return;
                }
            } catch {
                // The agent is down while the guest reboots.
            }
        }
        throw new Error(`${this.args.name}: not back from a reboot in ${timeoutMs / 1000} s`);
    }

    stop(): void {
        this.process?.kill("SIGKILL");
    }
}

/**
 * A site's networks in a network namespace of the test: one bridge per site network, with the
 * network's gateway address on it (a node's default route leads there, and the stand-ins listen
 * there), and taps for the VMs' NICs.
 */
export class SiteNamespace {
    private taps = 0;

    constructor(
        readonly name: string,
        private readonly id: string,
    ) {
        run("ip", "netns", "add", name);
        inside(name, "ip", "link", "set", "lo", "up");
    }

    /** A bridge for a site network, with `address` (`ip/prefix`) on it. */
    bridge(network: string, address: string): string {
        const bridge = `br-${network}`.slice(0, 15);
        inside(this.name, "ip", "link", "add", bridge, "type", "bridge");
        inside(this.name, "ip", "address", "add", address, "dev", bridge);
        inside(this.name, "ip", "link", "set", bridge, "up");
        return bridge;
    }

    /** A tap on `bridge` for a VM's NIC. */
    tap(bridge: string): string {
        const tap = `t${this.id}${this.taps++}`.slice(0, 15);
        inside(this.name, "ip", "tuntap", "add", "dev", tap, "mode", "tap");
        inside(this.name, "ip", "link", "set", tap, "master", bridge, "up");
        return tap;
    }

    remove(): void {
        run("ip", "netns", "delete", this.name);
    }
}
