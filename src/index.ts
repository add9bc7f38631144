/**
 * The package entry of tabdynamo: what an app imports as `import { DynamoNode } from 'tabdynamo'`.
 *
 * It is the whole public API and nothing else: the node (`DynamoNode`, src/runtime/dynamo-node.ts),
 * the shapes of its options, results and events, its typed errors (STYLE.md habit 5: compare `name`
 * where classes are lost, as across a worker), and the helper that points a node at a signaling server.
 * The core, the transport and the stores stay behind it. `npm run build:lib` builds this file into
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
export type {
  ConnectionPath,
  DynamoEvent,
  DynamoNodeOptions,
  GetOptions,
  GetResult,
  IceStatus,
  MemberRecord,
  MerkleTreesView,
  MerkleWorkerStats,
  NodeEvent,
  NodeStats,
  PutOptions,
  PutResult,
  Removal,
  SecretSource,
  SecurityStats,
  ServerStatus,
  SetupPath,
  SignalingOptions,
  SignalingPath,
  SignalingStats,
  SignalingStatus,
  TransportStats,
} from './runtime/dynamo-node.js';

// Shapes that methods of DynamoNode return or take (types only: none of these can be built from outside).
export type { NodeId } from './core/types.js';
export type { NodeConfig } from './core/node-config.js';
export type { SiblingView } from './core/node-api.js';
export type { Ring, RingMember } from './core/ring.js';
export type { TransferState } from './core/handoff.js';
export type { LinkState } from './net/peerjs-transport.js';
export type { SecretStorage } from './security/invitation.js';

/** Where a key lies on the ring (paper §4.2), to read `node.ring()` with. */
export { keyPosition } from './core/ring.js';

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
