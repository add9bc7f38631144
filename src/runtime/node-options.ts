/**
 * The options of `DynamoNode.start` (src/runtime/dynamo-node.ts): their shapes, their defaults, the
 * check that refuses a bad one with an `InvalidOptionError`, and what is derived from them (the core's
 * settings, the signaling server's origin). The core checks its own settings (N, R, W, Q, capacity,
 * timings) itself when it starts (src/core/node-config.ts); this file checks only what the runtime uses.
 */
import { InvalidOptionError } from '../core/errors.js';
import { DEFAULT_NODE_CONFIG, type NodeConfig } from '../core/node-config.js';
import type { SecretStorage } from '../security/invitation.js';

/** Where the signaling server is (PeerJS client options). Defaults to the page's own origin. */
export interface SignalingOptions {
  host: string;
  port: number;
  path: string;
  secure: boolean;
}

/** Options of `DynamoNode.start`. */
export interface DynamoNodeOptions {
  /** Cluster name, `[a-z0-9]+(-[a-z0-9]+)*`, at most 32 characters; namespaces PeerJS ids and databases. Default 'default'. */
  cluster?: string;
  /** Replicas per key (N), default 3. */
  n?: number;
  /** Default read quorum (R), default 2. */
  r?: number;
  /** Default write quorum (W), default 2. */
  w?: number;
  /** Partitions (Q), a power of two, default 256. Must be equal on every node of the cluster. */
  q?: number;
  /** Relative capacity of this node, default 1. */
  capacity?: number;
  /** Signaling server; default: the page's origin with path '/peerjs'. */
  signaling: SignalingOptions;
  /** Storage backend: 'indexeddb' (default, durable) or 'memory' (lost on reload). */
  storage?: 'indexeddb' | 'memory';
  /** Other core settings (timeouts, gossip period). */
  config?: Partial<NodeConfig>;
  /** How often the core's clock is advanced, ms. Default 100. */
  tickIntervalMs?: number;
  /** Most WebRTC connections kept open (least recently used closed first), 2..500. Default 32 (no recycling up to 33 nodes: opening and closing RTCPeerConnections costs the main thread dearly). */
  maxConnections?: number;
  /**
   * A tab without its own node takes over the node of a closed tab of this cluster (its Web Lock is
   * free and its database is on disk, and it has not left the ring), so that node's data comes back
   * online (DESIGN.md §3). Default false; the demo page turns it on.
   */
  adoptClosedNodes?: boolean;
  /**
   * The page's URL fragment, or a whole invitation link (issue 16): when it carries `#invite=<secret>`
   * this browser joins that cluster, and keeps the secret for its other tabs. Without one, the
   * browser's stored secret of the cluster is used, or a new one is made: a cluster of its own, which
   * never meets another cluster of the same name.
   */
  invitation?: string;
  /** Where this browser keeps cluster secrets. Default: localStorage. */
  secretStorage?: SecretStorage;
  /**
   * Authenticate every connection and sign the membership (default true). False exists only to
   * measure what authentication costs (`npm run bench`); such a node cannot talk to one with it on.
   */
  authentication?: boolean;
  /**
   * Tests only: register and signal under this tag instead of the one derived from the secret, as an
   * outsider who learned the tag would (the signaling server knows every tag). Its connections to the
   * cluster are then refused by the handshake, which is what tests check.
   */
  signalingTagForTesting?: string;
  /**
   * STUN/TURN servers for every connection (issue 17). Default: fetched from `iceConfigUrl` and kept in
   * this browser for starts while the server is down; none before the first fetch.
   */
  iceServers?: RTCIceServer[];
  /**
   * Where to fetch the ICE configuration; `null`: never. Default: `/api/ice-config` on the signaling
   * server's origin (the app's server answers it: src/server/ice-config.ts).
   */
  iceConfigUrl?: string | null;
}

/** The cluster a node joins when `cluster` is not given. */
export const DEFAULT_CLUSTER = 'default';
/** Longest cluster name, in characters. */
export const MAX_CLUSTER_NAME_LENGTH = 32;
/** Connections kept open when `maxConnections` is not given, and the bounds of the option. */
export const DEFAULT_MAX_CONNECTIONS = 32;
export const MIN_MAX_CONNECTIONS = 2;
export const MAX_MAX_CONNECTIONS = 500;
/** Period of the core's clock when `tickIntervalMs` is not given, in ms. */
export const DEFAULT_TICK_INTERVAL_MS = 100;

const CLUSTER_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** The options the runtime itself uses, checked and with their defaults filled in. */
export interface RuntimeOptions {
  cluster: string;
  maxConnections: number;
}

/**
 * Checks the cluster name and `maxConnections`, and fills in their defaults.
 * @throws InvalidOptionError for a cluster name not matching `[a-z0-9]+(-[a-z0-9]+)*` or longer than 32
 *   characters, or a `maxConnections` that is not an integer from 2 to 500.
 */
export function runtimeOptions(options: DynamoNodeOptions): RuntimeOptions {
  const cluster = options.cluster ?? DEFAULT_CLUSTER;
  if (!CLUSTER_NAME.test(cluster) || cluster.length > MAX_CLUSTER_NAME_LENGTH) {
    throw new InvalidOptionError(`cluster must match [a-z0-9]+(-[a-z0-9]+)* and be at most 32 characters, got "${cluster}"`);
  }
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < MIN_MAX_CONNECTIONS || maxConnections > MAX_MAX_CONNECTIONS) {
    throw new InvalidOptionError(`maxConnections must be an integer from 2 to 500, got ${maxConnections}`);
  }
  return { cluster, maxConnections };
}

/**
 * The core's settings given by the options: `config`, overridden by the shorthands `n`, `r`, `w`, `q`
 * (partitionCount) and `capacity` where given. Not checked here: the core refuses bad values.
 */
export function coreConfigOf(options: DynamoNodeOptions): Partial<NodeConfig> {
  return {
    ...options.config,
    ...(options.n !== undefined ? { n: options.n } : {}),
    ...(options.r !== undefined ? { r: options.r } : {}),
    ...(options.w !== undefined ? { w: options.w } : {}),
    ...(options.q !== undefined ? { partitionCount: options.q } : {}),
    ...(options.capacity !== undefined ? { capacity: options.capacity } : {}),
  };
}

/** The partition count (Q) the node will run with: `q`, else `config.partitionCount`, else the default (256). Not checked. */
export function partitionCountOf(options: DynamoNodeOptions): number {
  return options.q ?? options.config?.partitionCount ?? DEFAULT_NODE_CONFIG.partitionCount;
}

/** The signaling server's origin: `<http|https>://<host>:<port>`, an IPv6 host in brackets. */
export function signalingOrigin(signaling: SignalingOptions): string {
  const { host, port, secure } = signaling;
  return `${secure ? 'https' : 'http'}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}
