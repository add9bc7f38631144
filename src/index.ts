/**
 * The package entry of tabdynamo: what an app imports as `import { DynamoNode } from 'tabdynamo'`.
 *
 * It is the whole public API and nothing else: the node (`DynamoNode`, src/runtime/dynamo-node.ts),
 * the shapes of its options, results and events (each exported here from the module that owns it),
 * its typed errors (STYLE.md habit 5: compare `name` where classes are lost, as across a worker), and
 * the helper that points a node at a signaling server. The core, the transport and the stores stay
 * behind it. `npm run build:lib` builds this file into
 * `dist-lib/tabdynamo.js` (ESM, with the Merkle and tick workers beside it) and its declarations into
 * `dist-lib/types/`; examples/minimal is an app that uses nothing else. The demo page (src/ui) imports
 * from here too.
 *
 * ```ts
 * import { DynamoNode, peerClientOptions } from 'tabdynamo';
 * const node = await DynamoNode.start({ cluster: 'demo', signaling: peerClientOptions(location) });
 * const { context } = await node.put('cart:alice', { items: ['book'] });
 * const { siblings } = await node.get('cart:alice');
 * ```
 */

export { DynamoNode } from './runtime/dynamo-node.js';
export type { SignalingStatus } from './runtime/dynamo-node.js';
export type { DynamoNodeOptions, SignalingOptions } from './runtime/node-options.js';
export type { DynamoEvent } from './runtime/event-emitter.js';
export type { IceStatus } from './runtime/ice-refresh.js';
export type { MerkleTreesView } from './runtime/merkle-trees-view.js';
export type { SecurityStats } from './runtime/members-only.js';
export type { GetOptions, GetResult, NodeEvent, NodeStats, PutOptions, PutResult } from './core/node-api.js';
export type { Stage, StageSummary } from './core/stage-timings.js';
export type { MemberRecord, Removal } from './core/membership.js';
export type { MerkleWorkerStats } from './merkle/worker-merkle-service.js';
export type { ConnectionPath, TransportStats } from './net/peerjs-transport.js';
export type { ServerStatus } from './net/server-signaling.js';
export type { SetupPath, SignalingPath, SignalingStats } from './net/signaling-router.js';
export type { SecretSource } from './security/invitation.js';

// Shapes that methods of DynamoNode return or take (types only: none of these can be built from outside).
export type { NodeId } from './core/types.js';
export type { NodeConfig } from './core/node-config.js';
export type { SiblingView } from './core/node-api.js';
export type { Ring, RingMember } from './core/ring.js';
export type { TransferState } from './core/ownership-handoff.js';
// The transport now calls it ConnectionState; the package keeps the name it was published under.
export type { ConnectionState } from './net/peerjs-transport.js';
export type { SecretStorage } from './security/invitation.js';

/** Where a key lies on the ring (paper §4.2), to read `node.ring()` with. */
export { keyPosition } from './core/ring.js';
/** The node behind a version's actor id (`<node>x<epoch>`, epoch-actor.ts), to show who wrote it. */
export { actorNode } from './core/epoch-actor.js';

export {
  ClockOverflowError,
  DynamoError,
  IdentityLockedError,
  InvalidContextError,
  InvalidKeyError,
  InvalidOptionError,
  InvalidValueError,
  NodeNotRunningError,
  NoReplicasError,
  PeerUnreachableError,
  QuorumNotReachedError,
  RemoteError,
  RequestTimeoutError,
  StorageError,
  StorageQuotaError,
  ValueTooLargeError,
  VersionSetTooLargeError,
} from './core/errors.js';
export { MerkleWorkerError } from './merkle/worker-merkle-service.js';

/** Pointing a node at a signaling server: `signaling: peerClientOptions(location)` for the page's own origin. */
export { peerClientOptions, SIGNALING_PATH, type PeerClientOptions } from './signaling/signaling-urls.js';
