/**
 * The servers of the public namespace of a {@link Topology}: coturn (Debian's `turnserver`, STUN and
 * TURN with the TURN REST credentials of `use-auth-secret`) and the app served over HTTPS by
 * `scripts/serve.mjs`, the documented command for serving other devices (issue 17).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './fixtures.js';
import { ADDRESSES, type NamespaceProcess, type Topology } from './netns.js';

/** coturn's listening port (the standard STUN/TURN port) and its relay ports (a small fixed range). */
export const TURN_PORT = 3478;
export const RELAY_PORTS = { min: 49152, max: 49215 } as const;

/** A coturn running in pub; stopped by the topology's destroy (or {@link Coturn.stop}). */
export class Coturn {
  private constructor(
    private readonly process: NamespaceProcess,
    /** The config file it runs with. */
    readonly configFile: string,
    /** Its log file. */
    readonly logFile: string,
  ) {}

  /**
   * Starts `turnserver` in pub on {@link ADDRESSES.pub} only (UDP and TCP, no TLS/DTLS, no CLI), with
   * REST-API authentication by `secret`, and waits until it listens.
   */
  static async start(topology: Topology, secret: string, realm = 'tabdynamo.test'): Promise<Coturn> {
    const configFile = path.join(topology.dir, 'turnserver.conf');
    const logFile = path.join(topology.dir, 'turnserver.log');
    writeFileSync(
      configFile,
      [
        `listening-ip=${ADDRESSES.pub}`,
        `relay-ip=${ADDRESSES.pub}`,
        `listening-port=${TURN_PORT}`,
        `min-port=${RELAY_PORTS.min}`,
        `max-port=${RELAY_PORTS.max}`,
        'use-auth-secret',
        `static-auth-secret=${secret}`,
        `realm=${realm}`,
        'fingerprint',
        'no-tls',
        'no-dtls',
        'no-cli',
        'no-tcp-relay',
        'no-multicast-peers',
        'no-software-attribute',
        // Its own database file, so a run never touches (or needs) the system's /var/lib/turn/turndb.
        `userdb=${path.join(topology.dir, 'turndb')}`,
        `pidfile=${path.join(topology.dir, 'turnserver.pid')}`,
        `log-file=${logFile}`,
        'simple-log',
        'verbose',
        '',
      ].join('\n'),
    );
    const turn = topology.spawn('pub', 'turnserver', '/usr/bin/turnserver', ['-c', configFile, '--no-stdout-log']);
    const coturn = new Coturn(turn, configFile, logFile);
    const until = Date.now() + 15_000;
    // Ready once it logs its UDP listener on our address (the log file, since stdout is off).
    const listening = `UDP listener opened on: ${ADDRESSES.pub}:${TURN_PORT}`;
    while (!coturn.log().includes(listening)) {
      if (!turn.running) throw new Error(`turnserver exited (${turn.child.exitCode}):\n${turn.printed}\n${coturn.log()}`);
      if (Date.now() > until) throw new Error(`turnserver did not listen on ${ADDRESSES.pub}:${TURN_PORT} within 15 s:\n${coturn.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return coturn;
  }

  /** Its log so far, and what it printed (errors such as a failed send go to stderr). */
  log(): string {
    const file = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
    return this.process.printed === '' ? file : `${file}\n── turnserver stdout/stderr ──\n${this.process.printed}`;
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

/** Options of {@link AppServer.start}: the ICE servers it hands to tabs. */
export interface AppServerOptions {
  /** The built app's folder, relative to the repo (default `E2E_DIST` or dist). */
  dist?: string;
  port?: number;
  stun?: readonly string[];
  turn?: readonly string[];
  turnSecret?: string;
  turnTtlSeconds?: number;
}

/** `node scripts/serve.mjs --self-signed` running in pub on {@link ADDRESSES.pub}. */
export class AppServer {
  private constructor(
    private readonly process: NamespaceProcess,
    /** `https://198.51.100.1:<port>` */
    readonly origin: string,
  ) {}

  /** Starts the serving command and waits (bounded) for its `tabdynamo serving https://…` line. */
  static async start(topology: Topology, options: AppServerOptions = {}): Promise<AppServer> {
    const dist = options.dist ?? process.env.E2E_DIST ?? 'dist';
    if (!existsSync(path.join(REPO, dist, 'index.html'))) throw new Error(`${dist}/ is missing: run \`npm run build\` first (npm test does)`);
    const port = options.port ?? 8443;
    const args = [path.join(REPO, 'scripts', 'serve.mjs'), '--host', ADDRESSES.pub, '--port', String(port), '--self-signed', '--dist', path.join(REPO, dist)];
    for (const url of options.stun ?? []) args.push('--stun', url);
    for (const url of options.turn ?? []) args.push('--turn', url);
    if (options.turnSecret !== undefined) args.push('--turn-secret', options.turnSecret);
    if (options.turnTtlSeconds !== undefined) args.push('--turn-ttl', String(options.turnTtlSeconds));
    const server = topology.spawn('pub', 'serve.mjs', process.execPath, args, REPO);
    const match = await server.waitForOutput(/tabdynamo serving (https:\/\/\S+?)\/?\s*$/m, 30_000);
    const origin = match[1]!.replace(/\/$/, '');
    if (origin !== `https://${ADDRESSES.pub}:${port}`) throw new Error(`serve.mjs says it serves ${origin}, expected https://${ADDRESSES.pub}:${port}`);
    return new AppServer(server, origin);
  }

  /** What the server printed. */
  get printed(): string {
    return this.process.printed;
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}
