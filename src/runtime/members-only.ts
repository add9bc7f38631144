/**
 * The runtime's side of members-only security (issue 16): where a node's cluster secret and key come
 * from, and where they are kept. The cryptography itself is src/security/; the connection handshake
 * is src/net/handshake.ts.
 *
 *   invitation link ─┐
 *   stored secret  ──┼─▶ cluster secret ──▶ cluster keys (tag: the cluster's name at the server)
 *   new secret     ──┘
 *   new node id  ◀── Ed25519 key made at start; stored in the node's database with the tag
 *   old node id  ◀── key read back from its database; refused when missing or of another tag
 *
 * Meta entries of a node's database: 'node-key' (its key pair, the private key non-extractable) and
 * 'cluster-tag' (the tag of the secret the key belongs to).
 */
import { NodeKeyMissingError } from '../core/errors.js';
import type { Store } from '../core/ports.js';
import type { NodeId } from '../core/types.js';
import type { AuthenticationStats } from '../net/peerjs-transport.js';
import { deriveClusterKeys, type ClusterKeys } from '../security/cluster-secret.js';
import { clusterSecret, secretFromFragment, type SecretSource, type SecretStorage } from '../security/invitation.js';
import { generateNodeKey, restoreNodeKey, type NodeKey } from '../security/node-key.js';
import { IdbStore } from '../storage/idb-store.js';
import { databaseName } from './identity.js';

/** What `DynamoNode.securityStats()` reports (issue 16). */
export interface SecurityStats extends AuthenticationStats {
  /** Gossiped member records refused: not signed by their own node. */
  recordsRejected: number;
  /** Removal statements refused: not signed by a member. */
  removalsRejected: number;
}

/** Meta entries of a node's database holding its key pair and the tag of its cluster secret. */
const META_NODE_KEY = 'node-key';
const META_CLUSTER_TAG = 'cluster-tag';

/** What the node knows of its cluster's secret. */
export interface ClusterSecurity {
  secret: Uint8Array;
  source: SecretSource;
  keys: ClusterKeys;
  /** Keys of ids made by this start, not yet stored. */
  fresh: Map<NodeId, NodeKey>;
}

/**
 * The cluster's secret and keys: from `invitation` (a URL fragment or a whole link carrying
 * `#invite=<secret>`, then kept in `storage` for this browser's other tabs), else the secret `storage`
 * keeps for `cluster`, else a new one (a cluster of its own).
 * @throws a DOMException when `storage` or WebCrypto refuses.
 */
export async function clusterSecurity(cluster: string, invitation: string, storage: SecretStorage): Promise<ClusterSecurity> {
  const invited = secretFromFragment(invitation.includes('#') ? invitation.slice(invitation.indexOf('#')) : invitation);
  const { secret, source } = clusterSecret(cluster, storage, invited);
  return { secret, source, keys: await deriveClusterKeys(secret, cluster), fresh: new Map() };
}

/**
 * Makes the ids of new nodes: each is derived from a new Ed25519 key, kept in `security.fresh` until
 * {@link nodeKey} stores it in the node's database.
 * @throws a DOMException when WebCrypto lacks Ed25519.
 */
export function nodeIdMaker(security: ClusterSecurity): () => Promise<NodeId> {
  return async () => {
    const key = await generateNodeKey();
    security.fresh.set(key.nodeId, key);
    return key.nodeId;
  };
}

/**
 * Whether the closed node `nodeId` may be adopted: its database holds its record and its key, belongs
 * to this cluster secret (`tag`), and it has not left. Never throws: an unreadable database is false.
 */
export async function isAdoptable(cluster: string, nodeId: NodeId, tag: string): Promise<boolean> {
  let store: IdbStore | undefined;
  try {
    store = await IdbStore.open(databaseName(cluster, nodeId));
    const self = await store.getMeta<{ status?: string; history?: { capacity: number }[] }>('self');
    if ((await store.getMeta(META_CLUSTER_TAG)) !== tag) return false;
    if ((await restoreNodeKey(nodeId, await store.getMeta(META_NODE_KEY))) === undefined) return false;
    return self !== undefined && self.status !== 'left';
  } catch {
    return false;
  } finally {
    await store?.close().catch(() => undefined);
  }
}

/**
 * The key of `nodeId`: made by this start (then stored with the cluster's tag), or read from its
 * database.
 * @throws NodeKeyMissingError when the database holds no key for the id or belongs to another secret;
 *   StorageError.
 */
export async function nodeKey(store: Store, nodeId: NodeId, security: ClusterSecurity): Promise<NodeKey> {
  const made = security.fresh.get(nodeId);
  if (made !== undefined) {
    await store.putMeta(META_NODE_KEY, { publicKey: made.publicKey, privateKey: made.privateKey });
    await store.putMeta(META_CLUSTER_TAG, security.keys.tag);
    return made;
  }
  const tag = await store.getMeta(META_CLUSTER_TAG);
  const key = await restoreNodeKey(nodeId, await store.getMeta(META_NODE_KEY));
  if (key === undefined || tag !== security.keys.tag) {
    throw new NodeKeyMissingError(`node ${nodeId} has no key of this cluster in its database; starting a new node`);
  }
  return key;
}
