/**
 * The table from request type to handler: what a node answers to each request of a peer (the wire
 * protocol of messages.ts). Each handler returns its reply (without the request id, which the node
 * adds) or undefined for none; a handler that throws is answered with an error-reply.
 *
 *   replica-get, replica-put, ae-fetch     the replica (replica.ts)
 *   hinted-put                             hinted handoff (hinted-handoff.ts)
 *   coordinate-get, coordinate-put         the coordinators, a coordinate-put once per request id
 *   ping, ping-req                         failure detection (SWIM probes, paper §4.8.3)
 *   ae-roots, ae-hashes, ae-leaves         the Merkle trees (anti-entropy, §4.7)
 *   purge-check, purge                     tombstone purging (tombstone-purge.ts) and the replica
 *   handoff-*                              ownership handoff (§4.9)
 */
import { InvalidOptionError, NodeNotRunningError } from './errors.js';
import type { ServedRequests } from './forwarding.js';
import type { GetCoordinator } from './get-coordinator.js';
import type { OwnershipHandoff } from './ownership-handoff.js';
import type { HintedHandoff } from './hinted-handoff.js';
import type { ReplyMessage } from './messages.js';
import type { NodeConfig } from './node-config.js';
import type { MerkleService } from './ports.js';
import type { PutCoordinator } from './put-coordinator.js';
import type { TombstonePurge } from './tombstone-purge.js';
import type { Replica } from './replica.js';
import type { ReplyBody, RequestBody, RequestMessage } from './request-table.js';
import type { NodeId } from './types.js';
import { validateKey } from './value-codec.js';
import { sameBytes } from './bytes.js';
import { rootsDigest } from './merkle-diff.js';
import { assertFitsOneMessage } from './version-set-limits.js';

/** The handler of one request type. */
export type Handler<T extends RequestMessage['type']> = (from: NodeId, message: Extract<RequestMessage, { type: T }>) => Promise<ReplyBody | undefined>;
/** One handler per request type. */
export type Handlers = { [T in RequestMessage['type']]: Handler<T> };

/** The node's parts the handlers answer from. */
export interface HandlerPorts {
  self: NodeId;
  config: NodeConfig;
  merkle(): MerkleService | undefined;
  replica: Replica;
  hints: HintedHandoff;
  handoff: OwnershipHandoff;
  served: ServedRequests;
  getCoordinator: GetCoordinator;
  putCoordinator: PutCoordinator;
  /** The members this node's failure detector watches (the only ones a ping-req may name). */
  probedPeers(): NodeId[];
  /** Tombstone purging, once the node started. */
  purger(): TombstonePurge | undefined;
  request(to: NodeId, body: RequestBody, timeoutMs: number): Promise<ReplyMessage>;
}

/** Builds the handler table. */
export function requestHandlers(ports: HandlerPorts): Handlers {
    const merkle = (): MerkleService => {
      const trees = ports.merkle();
      if (!trees) throw new NodeNotRunningError('the Merkle trees are not ready yet');
      return trees;
    };
    return {
      'replica-get': (_from, m) => ports.replica.onGet(m),
      'replica-put': (_from, m) => ports.replica.onPut(m),
      'hinted-put': (_from, m) => ports.hints.onHintedPut(m),
      'coordinate-get': async (_from, m) => {
        validateKey(m.key);
        const outcome = await ports.getCoordinator.coordinate(m.key, m.r, m.timeoutMs);
        // Replicas' states merged here may exceed what one message carries: say so rather than send
        // a reply the requester would drop.
        if (outcome.versions !== undefined) assertFitsOneMessage(outcome.versions, ports.config.maxVersionSetBytes);
        return { type: 'coordinate-get-reply', versions: outcome.versions ?? null, answeredBy: outcome.answeredBy };
      },
      'coordinate-put': (from, m) => {
        validateKey(m.key);
        return ports.served.once(from, m.requestId, async () => {
          const outcome = await ports.putCoordinator.coordinate(m.key, m.data, { clock: m.context, dots: m.contextDots }, m.w, m.timeoutMs, m.writeId);
          return { type: 'coordinate-put-reply', dot: outcome.dot, answered: outcome.acks };
        });
      },
      ping: () => Promise.resolve({ type: 'ping-reply' }),
      'ping-req': async (from, m) => {
        // Only members this node watches are probed, and for one protocol period at most: a peer must
        // not make it contact any id it names (a connection each, in a tab) or keep requests open for
        // the ten minutes the schema allows.
        if (m.target === ports.self || m.target === from || !ports.probedPeers().includes(m.target)) throw new InvalidOptionError(`${m.target} is not a member this node probes`);
        await ports.request(m.target, { type: 'ping' }, Math.min(m.timeoutMs, ports.config.probeIntervalMs));
        return { type: 'ping-reply' };
      },
      'ae-roots': async (_from, m) => {
        const roots = await merkle().roots(m.partitions);
        // The requester's digest of its own roots matches: one flag instead of every root.
        if (m.digest !== undefined && sameBytes(rootsDigest(roots), m.digest)) return { type: 'ae-hashes-reply', hashes: [], same: true };
        return { type: 'ae-hashes-reply', hashes: roots };
      },
      'ae-hashes': async (_from, m) => ({ type: 'ae-hashes-reply', hashes: await merkle().hashes(m.partition, m.level, m.indices) }),
      'ae-leaves': async (_from, m) => ({ type: 'ae-leaves-reply', items: await merkle().leafItems(m.partition, m.leaves) }),
      'ae-fetch': (_from, m) => ports.replica.onFetch(m),
      'purge-check': async (_from, m) => ({ type: 'purge-check-reply', held: await ports.replica.purgeHoldings(m.items) }),
      purge: async (from, m) => {
        const purger = ports.purger();
        if (!purger) throw new NodeNotRunningError('the node is not running');
        return { type: 'purge-reply', purged: await purger.onPurge(from, m.items) };
      },
      // `bundles`: this node takes handoff-bundle, so the holder sends several partitions per message.
      'handoff-start': (_from, m) => Promise.resolve({ type: 'handoff-reply', accepted: ports.handoff.onStart(m.partition), bundles: true }),
      'handoff-batch': async (_from, m) => {
        for (const item of m.items) validateKey(item.key);
        return { type: 'handoff-reply', accepted: await ports.handoff.onBatch(m.partition, m.items) };
      },
      'handoff-finish': (from, m) => Promise.resolve({ type: 'handoff-reply', accepted: ports.handoff.onFinish(from, m.partition) }),
      'handoff-bundle': async (from, m) => {
        for (const part of m.parts) for (const item of part.items) validateKey(item.key);
        return { type: 'handoff-bundle-reply', refused: await ports.handoff.onBundle(from, m.parts) };
      },
      'handoff-pull': (from, m) => Promise.resolve({ type: 'handoff-reply', accepted: ports.handoff.onPull(from, m.partition) }),
    };
}
