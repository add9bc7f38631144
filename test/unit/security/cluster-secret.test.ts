/** The cluster secret, what is derived from it, invitation links and node keys (src/security/). */
import { describe, expect, it } from 'vitest';
import { deriveClusterKeys, newClusterSecret, SECRET_BYTES, TAG_LENGTH } from '../../../src/security/cluster-secret.js';
import { toBase64Url } from '../../../src/security/encoding.js';
import { clusterSecret, invitationLink, secretFromFragment, secretSlot } from '../../../src/security/invitation.js';
import { generateNodeKey, nodeIdOf, NODE_ID_LENGTH, restoreNodeKey } from '../../../src/security/node-key.js';

function memoryStorage(): Storage {
  const map = new Map<string, string>();
  return { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v) } as Storage;
}

describe('cluster secret', () => {
  it('derives a 16-character tag that depends on the secret and the cluster name, and never contains the name', async () => {
    const secret = newClusterSecret();
    expect(secret.byteLength).toBe(SECRET_BYTES);
    const a = await deriveClusterKeys(secret, 'demo');
    expect(a.tag).toMatch(new RegExp(`^[a-z2-7]{${TAG_LENGTH}}$`));
    expect((await deriveClusterKeys(secret, 'demo')).tag).toBe(a.tag);
    expect((await deriveClusterKeys(secret, 'other')).tag).not.toBe(a.tag);
    expect((await deriveClusterKeys(newClusterSecret(), 'demo')).tag).not.toBe(a.tag);
    await expect(deriveClusterKeys(new Uint8Array(5), 'demo')).rejects.toThrow(RangeError);
  });

  it('the first tab makes the secret, the browser keeps it for its other tabs, an invitation replaces it', () => {
    const storage = memoryStorage();
    const first = clusterSecret('demo', storage);
    expect(first.source).toBe('created');
    const second = clusterSecret('demo', storage);
    expect(second).toEqual({ secret: first.secret, source: 'stored' });
    expect(clusterSecret('other', storage).secret).not.toEqual(first.secret);
    const invited = newClusterSecret();
    expect(clusterSecret('demo', storage, invited)).toEqual({ secret: invited, source: 'invited' });
    expect(clusterSecret('demo', storage)).toEqual({ secret: invited, source: 'stored' });
    // A damaged stored secret is replaced by a new one.
    storage.setItem(secretSlot('bad'), 'not base64url!');
    expect(clusterSecret('bad', storage).source).toBe('created');
  });
});

describe('invitation links', () => {
  it('carry the cluster, the settings every node shares and the secret in the fragment; not this tab’s own settings', () => {
    const secret = newClusterSecret();
    const link = invitationLink('https://host.example:8443/app/?cluster=old&n=5&r=3&w=3&q=64&adopt=off&maxConnections=3#/notes', 'demo', secret);
    const url = new URL(link);
    expect(url.origin + url.pathname).toBe('https://host.example:8443/app/');
    expect(Object.fromEntries(url.searchParams)).toEqual({ cluster: 'demo', n: '5', r: '3', w: '3', q: '64' });
    expect(url.hash).toBe(`#invite=${toBase64Url(secret)}`);
    expect(secretFromFragment(url.hash)).toEqual(secret);
  });

  it('read a secret only from a well-formed fragment', () => {
    const secret = newClusterSecret();
    expect(secretFromFragment(`invite=${toBase64Url(secret)}`)).toEqual(secret);
    expect(secretFromFragment('')).toBeUndefined();
    expect(secretFromFragment('#/notes')).toBeUndefined();
    expect(secretFromFragment(`#invite=${toBase64Url(secret.subarray(0, 16))}`)).toBeUndefined();
    expect(secretFromFragment('#invite=%%%')).toBeUndefined();
  });
});

describe('node keys', () => {
  it('derive a 24-character id from the public key, and come back from storage only for their own id', async () => {
    const key = await generateNodeKey();
    expect(key.nodeId).toMatch(new RegExp(`^[a-z2-7]{${NODE_ID_LENGTH}}$`));
    expect(await nodeIdOf(key.publicKey)).toBe(key.nodeId);
    expect(key.privateKey.extractable).toBe(false);
    const stored = { publicKey: key.publicKey, privateKey: key.privateKey };
    expect((await restoreNodeKey(key.nodeId, stored))?.nodeId).toBe(key.nodeId);
    const other = await generateNodeKey();
    expect(await restoreNodeKey(other.nodeId, stored)).toBeUndefined();
    expect(await restoreNodeKey(key.nodeId, { publicKey: key.publicKey })).toBeUndefined();
    expect(await restoreNodeKey(key.nodeId, undefined)).toBeUndefined();
  });
});
