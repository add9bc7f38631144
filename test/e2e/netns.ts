/**
 * Separate machines on one machine: Linux network namespaces, veth links and NAT, made and removed by
 * the test itself (issue 17). The topology is two homes, each a LAN behind a masquerading router, and
 * a public namespace between the routers that runs the servers every home can reach:
 *
 *      h1 (home 1)            r1 (router)                  pub                    r2 (router)            h2 (home 2)
 *   eth0 10.71.1.2/24 ── lan 10.71.1.1/24                                   lan 10.71.2.1/24 ── eth0 10.71.2.2/24
 *                           wan 198.51.100.2/30 ── r1 198.51.100.1/30
 *                                                   r2 198.51.100.5/30 ── wan 198.51.100.6/30
 *
 * - Routers masquerade LAN→WAN and forward only LAN→WAN plus replies (a home router's stateful
 *   firewall). The homes' private addresses never leave their router: pub routes them nowhere.
 * - pub is "the internet": it forwards between the two WAN links, unless the direct path is forbidden,
 *   in which case it drops forwarded traffic between r1's and r2's WAN addresses (and counts it), so a
 *   home reaches only pub's own services (the app server, STUN/TURN on 198.51.100.1). Its default
 *   route leads into `void`, a veth whose other end stays down: what the internet cannot deliver is
 *   lost without an error to the sender, as on the real one.
 * - IPv6 is off everywhere, so every packet uses the addresses above; all of them are on veth links
 *   this module created (private and documentation ranges: RFC 1918 and RFC 5737 TEST-NET-2).
 *
 * Namespace names carry the test process's id (`td<pid>pub` …) so runs cannot collide; the namespaces
 * and temporary folders of a run whose process is gone are removed on the next {@link Topology.create}.
 * Every command is bounded in time. Needs root, `ip` (iproute2) and `nft` (nftables):
 * {@link netnsUnavailable} says why not.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The namespaces of one topology, by role. */
export type Role = 'pub' | 'r1' | 'h1' | 'r2' | 'h2';
const ROLES: readonly Role[] = ['pub', 'r1', 'h1', 'r2', 'h2'];

/** The addresses of the topology (see the module header). */
export const ADDRESSES = {
  /** pub's address on the link to r1: where the app server and coturn listen. */
  pub: '198.51.100.1',
  /** pub's address on the link to r2. */
  pubToR2: '198.51.100.5',
  r1Wan: '198.51.100.2',
  r2Wan: '198.51.100.6',
  r1Lan: '10.71.1.1',
  r2Lan: '10.71.2.1',
  h1: '10.71.1.2',
  h2: '10.71.2.2',
} as const;

const COMMAND_TIMEOUT_MS = 10_000;

function findTool(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin', ...(process.env.PATH ?? '').split(':')]) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

const IP = findTool('ip');
const NFT = findTool('nft');

/**
 * Why this machine cannot build the topology (not Linux, not root, `ip`/`nft`/`extra` tools missing,
 * or namespaces refused, as in a container without CAP_SYS_ADMIN), or undefined when it can. Tries
 * to create (and removes) one namespace.
 */
export function netnsUnavailable(extraTools: readonly string[] = []): string | undefined {
  if (process.platform !== 'linux') return `network namespaces are Linux only (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root (CI runs as root)';
  if (IP === undefined) return '`ip` (iproute2) is missing';
  if (NFT === undefined) return '`nft` is missing (Debian package nftables; .ci/run installs it)';
  for (const tool of extraTools) if (findTool(tool) === undefined) return `\`${tool}\` is missing (.ci/run installs it)`;
  const probe = `td${process.pid}probe`;
  const added = spawnSync(IP, ['netns', 'add', probe], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  if (added.status !== 0) return `\`ip netns add\` failed: ${(added.stderr || added.error?.message || '').trim()}`;
  spawnSync(IP, ['netns', 'del', probe], { timeout: COMMAND_TIMEOUT_MS });
  return undefined;
}

/** Runs a command to completion (bounded in time); throws with its stderr when it fails. */
export function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A long-running process inside a namespace (`ip netns exec NS …`, which execs the command, so the
 * child's pid is the command's own). Keeps the last 256 KiB of its output for failure reports.
 */
export class NamespaceProcess {
  private output = '';
  private readonly exited: Promise<void>;

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-256 * 1024);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** What the process printed (stdout and stderr, interleaved, the last 256 KiB). */
  get printed(): string {
    return this.output;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until the process prints a line matching `pattern` (returns the match); throws if it exits or `timeoutMs` passes. */
  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const match = this.output.match(pattern);
      if (match) return match;
      if (!this.running) throw new Error(`${this.label} exited (${this.child.exitCode ?? this.child.signalCode}) before printing ${pattern}:\n${this.output}`);
      if (Date.now() > until) throw new Error(`${this.label} did not print ${pattern} within ${timeoutMs} ms:\n${this.output}`);
      await sleep(50);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 3_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const gone = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!gone && this.running) {
      this.child.kill('SIGKILL');
      await Promise.race([this.exited, sleep(graceMs)]);
    }
  }
}

/** Options of {@link Topology.create}. */
export interface TopologyOptions {
  /** Drop forwarded traffic between the two routers' WAN addresses in pub: homes reach only pub itself. */
  forbidDirectPath: boolean;
}

/** Two NATed homes and a public namespace (see the module header); remove it with {@link Topology.destroy}. */
export class Topology {
  private readonly processes: NamespaceProcess[] = [];
  private readonly created: string[] = [];

  private constructor(
    /** Namespace names by role. */
    readonly ns: Readonly<Record<Role, string>>,
    /** A temporary folder for this topology's scripts, configs and logs (removed by destroy). */
    readonly dir: string,
  ) {}

  /**
   * Creates the namespaces, links, addresses, routes and NAT. On failure, removes whatever it had
   * made and rethrows.
   */
  static async create(options: TopologyOptions): Promise<Topology> {
    await removeAbandonedNamespaces();
    const ns = Object.fromEntries(ROLES.map((role) => [role, `td${process.pid}${role}`])) as Record<Role, string>;
    const topology = new Topology(ns, mkdtempSync(path.join(tmpdir(), `tabdynamo-netns-${process.pid}-`)));
    try {
      await topology.build(options);
    } catch (error) {
      await topology.destroy();
      throw error;
    }
    return topology;
  }

  private async build(options: TopologyOptions): Promise<void> {
    const ip = (...args: string[]) => run(IP!, args);
    for (const role of ROLES) {
      await ip('netns', 'add', this.ns[role]);
      this.created.push(this.ns[role]);
      await this.sysctl(role, 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
      await ip('-n', this.ns[role], 'link', 'set', 'lo', 'up');
    }
    // Links: created inside their namespaces, so the interface names never meet the root namespace's.
    const link = async (a: Role, aName: string, aAddress: string, b: Role, bName: string, bAddress: string) => {
      await ip('-n', this.ns[a], 'link', 'add', aName, 'type', 'veth', 'peer', 'name', bName, 'netns', this.ns[b]);
      await ip('-n', this.ns[a], 'addr', 'add', aAddress, 'dev', aName);
      await ip('-n', this.ns[b], 'addr', 'add', bAddress, 'dev', bName);
      await ip('-n', this.ns[a], 'link', 'set', aName, 'up');
      await ip('-n', this.ns[b], 'link', 'set', bName, 'up');
    };
    await link('pub', 'r1', `${ADDRESSES.pub}/30`, 'r1', 'wan', `${ADDRESSES.r1Wan}/30`);
    await link('pub', 'r2', `${ADDRESSES.pubToR2}/30`, 'r2', 'wan', `${ADDRESSES.r2Wan}/30`);
    await link('r1', 'lan', `${ADDRESSES.r1Lan}/24`, 'h1', 'eth0', `${ADDRESSES.h1}/24`);
    await link('r2', 'lan', `${ADDRESSES.r2Lan}/24`, 'h2', 'eth0', `${ADDRESSES.h2}/24`);
    await ip('-n', this.ns.r1, 'route', 'add', 'default', 'via', ADDRESSES.pub);
    await ip('-n', this.ns.r2, 'route', 'add', 'default', 'via', ADDRESSES.pubToR2);
    await ip('-n', this.ns.h1, 'route', 'add', 'default', 'via', ADDRESSES.r1Lan);
    await ip('-n', this.ns.h2, 'route', 'add', 'default', 'via', ADDRESSES.r2Lan);
    // The internet loses what it cannot deliver (to a home's private address, say) without telling
    // the sender: pub's default route leads into a veth whose other end is down, which discards every
    // packet (no ARP on it, so nothing waits for an answer). With no route (ENETUNREACH) or a
    // blackhole route (EINVAL), sendto fails at once, and coturn closes a whole allocation on one
    // failed send: each ICE check from a relay to the other home's private host candidate would kill
    // that relay a few seconds into the connection.
    await ip('-n', this.ns.pub, 'link', 'add', 'void', 'type', 'veth', 'peer', 'name', 'void-end');
    await ip('-n', this.ns.pub, 'link', 'set', 'void', 'arp', 'off', 'up');
    await ip('-n', this.ns.pub, 'route', 'add', 'default', 'dev', 'void');

    // Forwarding only where a router is: the two home routers and pub, the internet between them.
    for (const role of ['pub', 'r1', 'r2'] as const) await this.sysctl(role, 'net.ipv4.ip_forward=1');
    for (const [role, lanNet] of [['r1', '10.71.1.0/24'], ['r2', '10.71.2.0/24']] as const) {
      await this.nft(
        role,
        `table inet tdnat {
           chain postrouting {
             type nat hook postrouting priority srcnat; policy accept;
             oifname "wan" ip saddr ${lanNet} masquerade
           }
           chain forward {
             type filter hook forward priority filter; policy drop;
             ct state established,related accept
             iifname "lan" oifname "wan" accept
           }
         }`,
      );
    }
    if (options.forbidDirectPath) {
      await this.nft(
        'pub',
        `table inet tdnet {
           chain forward {
             type filter hook forward priority filter; policy accept;
             ip saddr ${ADDRESSES.r1Wan} ip daddr ${ADDRESSES.r2Wan} counter drop
             ip saddr ${ADDRESSES.r2Wan} ip daddr ${ADDRESSES.r1Wan} counter drop
           }
         }`,
      );
    }
  }

  private async sysctl(role: Role, ...settings: string[]): Promise<void> {
    await run(IP!, ['netns', 'exec', this.ns[role], 'sysctl', '-q', '-w', ...settings]);
  }

  private async nft(role: Role, ruleset: string): Promise<void> {
    await run(IP!, ['netns', 'exec', this.ns[role], NFT!, '-f', '-'], ruleset);
  }

  /** Packets pub dropped between the two homes' WAN addresses (0 unless the direct path is forbidden). */
  async directPathDrops(): Promise<number> {
    const listing = await run(IP!, ['netns', 'exec', this.ns.pub, NFT!, 'list', 'ruleset']).catch(() => '');
    return [...listing.matchAll(/counter packets (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  }

  /** Runs a command inside a namespace to completion (bounded in time) and returns its stdout. */
  exec(role: Role, command: string, args: readonly string[] = []): Promise<string> {
    return run(IP!, ['netns', 'exec', this.ns[role], command, ...args]);
  }

  /** Starts a long-running command inside a namespace; {@link destroy} stops it. */
  spawn(role: Role, label: string, command: string, args: readonly string[], cwd?: string): NamespaceProcess {
    const child = spawn(IP!, ['netns', 'exec', this.ns[role], command, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const started = new NamespaceProcess(label, child);
    this.processes.push(started);
    return started;
  }

  /**
   * Writes a script that runs `executable` (with its arguments) inside the namespace of `role`, for
   * Playwright's `executablePath`: the browser it launches then lives in that home. `ip netns exec`
   * execs, so the pipes Playwright passes (fds 3 and 4) reach the browser unchanged.
   */
  wrapper(role: Role, executable: string): string {
    const file = path.join(this.dir, `${path.basename(executable)}-in-${role}.sh`);
    writeFileSync(file, `#!/bin/sh\nexec ${IP} netns exec ${this.ns[role]} ${executable} "$@"\n`);
    chmodSync(file, 0o755);
    return file;
  }

  /**
   * Stops every process started here, kills whatever else still runs inside the namespaces (a browser
   * a test could not close), deletes the namespaces (and with them their links and rules) and the
   * temporary folder. Safe to call twice; never throws.
   */
  async destroy(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop().catch(() => undefined)));
    for (const name of this.created.splice(0).reverse()) await deleteNamespace(name);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Kills the processes inside a namespace (they are this test's own), then deletes it. */
async function deleteNamespace(name: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = (await run(IP!, ['netns', 'pids', name]).catch(() => ''))
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((pid) => pid !== process.pid && isAlive(pid));
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await sleep(100);
  }
  await run(IP!, ['netns', 'del', name]).catch(() => undefined);
}

/** Removes namespaces (`td<pid><role>`) and temporary folders of earlier runs whose process no longer exists. */
async function removeAbandonedNamespaces(): Promise<void> {
  const abandoned = (pid: number) => pid !== process.pid && !isAlive(pid);
  const listing = await run(IP!, ['netns', 'list']).catch(() => '');
  for (const line of listing.split('\n')) {
    const match = /^td(\d+)(pub|r1|h1|r2|h2|probe)\b/.exec(line.trim());
    if (match && abandoned(Number(match[1]))) await deleteNamespace(`td${match[1]}${match[2]}`);
  }
  for (const name of readdirSync(tmpdir())) {
    const match = /^tabdynamo-netns-(\d+)-/.exec(name);
    if (match && abandoned(Number(match[1]))) rmSync(path.join(tmpdir(), name), { recursive: true, force: true });
  }
}
