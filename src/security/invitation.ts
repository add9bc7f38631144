/**
 * Invitations (DESIGN.md §3 "Security"): the only way a browser gets a cluster's secret.
 *
 *   https://host/?cluster=<name>#invite=<base64url secret>
 *
 * The secret travels in the URL fragment, which browsers never send to a server (RFC 3986 §3.5;
 * Fetch strips it). A browser keeps one secret per cluster name in localStorage, shared by all its
 * tabs (`tabdynamo:<cluster>:secret`): the first tab of a cluster makes one, an invitation replaces it.
 */
import { fromBase64Url, toBase64Url } from './encoding.js';
import { newClusterSecret, SECRET_BYTES } from './cluster-secret.js';

/** The fragment parameter that carries the secret. */
export const INVITE_PARAM = 'invite';

/** Page parameters every node of a cluster must share; an invitation carries them. */
export const CLUSTER_PARAMS = ['n', 'r', 'w', 'q'] as const;

/**
 * The invitation link to `cluster` at the page `base`: its origin and path, the cluster's name, the
 * settings every node of the cluster must share ({@link CLUSTER_PARAMS}, when `base` has them; not
 * this tab's own settings), and the secret in the fragment.
 */
export function invitationLink(base: string, cluster: string, secret: Uint8Array): string {
  const url = new URL(base);
  const params = new URLSearchParams({ cluster });
  for (const name of CLUSTER_PARAMS) {
    const value = url.searchParams.get(name);
    if (value !== null) params.set(name, value);
  }
  url.search = `?${params.toString()}`;
  url.hash = `${INVITE_PARAM}=${toBase64Url(secret)}`;
  return url.toString();
}

/**
 * The secret carried by a URL fragment (`#invite=…`, with or without the `#`).
 * @returns undefined when there is none or it is not a well-formed secret.
 */
export function secretFromFragment(hash: string): Uint8Array | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const text = params.get(INVITE_PARAM);
  if (text === null) return undefined;
  const secret = fromBase64Url(text);
  return secret?.byteLength === SECRET_BYTES ? secret : undefined;
}

/** The localStorage slot of a cluster's secret. */
export function secretSlot(cluster: string): string {
  return `tabdynamo:${cluster}:secret`;
}

/** Where this browser's cluster secrets are kept (localStorage in a page). */
export type SecretStorage = Pick<Storage, 'getItem' | 'setItem'>;

/** How a node got its cluster secret. */
export type SecretSource = 'stored' | 'created' | 'invited';

/**
 * The secret this browser uses for `cluster`: `invited` when given (it replaces any stored one), else
 * the stored one, else a new one (this browser then starts a cluster of its own). The result is
 * stored for the other tabs of this browser.
 */
export function clusterSecret(cluster: string, storage: SecretStorage, invited?: Uint8Array): { secret: Uint8Array; source: SecretSource } {
  const slot = secretSlot(cluster);
  if (invited !== undefined) {
    storage.setItem(slot, toBase64Url(invited));
    return { secret: invited, source: 'invited' };
  }
  const stored = fromBase64Url(storage.getItem(slot) ?? '');
  if (stored?.byteLength === SECRET_BYTES) return { secret: stored, source: 'stored' };
  const secret = newClusterSecret();
  storage.setItem(slot, toBase64Url(secret));
  return { secret, source: 'created' };
}
