/**
 * The connection handshake (DESIGN.md §3 "Security"; issue 16): before a node takes any message from a
 * data channel, both ends prove that they hold their node key and the cluster secret, bound to this
 * very connection.
 *
 *   dialer D                                         acceptor A
 *     hello {nodeId, publicKey, nonce_D}   ──▶
 *                                          ◀──   hello {nodeId, publicKey, nonce_A}
 *     proof {sig_D, mac_D}                 ──▶
 *                                          ◀──   proof {sig_A, mac_A}
 *
 *   T      = SHA-256 of the length-prefixed parts: "tabdynamo-handshake/v1", tag,
 *            fingerprint_D, fingerprint_A, nodeId_D, nodeId_A, publicKey_D, publicKey_A, nonce_D, nonce_A
 *   sig_X  = Ed25519(key_X, "proof/" + role_X + T)             proves the node key (RFC 8032)
 *   mac_X  = HMAC-SHA-256(handshakeKey, "proof/" + role_X + T)  proves the cluster secret (RFC 2104)
 *
 * Both hellos go out as soon as the channel opens, so the handshake costs one round trip plus the
 * signing and verifying. Each end builds T from what it sees itself: its own DTLS certificate
 * fingerprint and the one the other end presented (the SDP's `a=fingerprint`, which DTLS enforces).
 * A signaling path that swapped the SDP to sit in the middle (a hostile server or relay) makes the two
 * ends see different fingerprints, so neither proof verifies. Fresh random nonces on both sides make a
 * recorded proof useless on another connection; the role in the signed text stops a reflected proof.
 * After the handshake, DTLS protects every message: nothing on the request path is signed.
 *
 * `HandshakeSession` is pure apart from WebCrypto: the transport feeds it the other end's frames and
 * sends what it returns.
 */
import * as v from 'valibot';
import type { NodeId } from '../core/types.js';
import type { ClusterKeys } from '../security/cluster-secret.js';
import { concatBytes, ownBytes, utf8 } from '../security/encoding.js';
import { nodeIdOf, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, signBytes, verifySignature, type NodeKey } from '../security/node-key.js';

/** Length of a handshake nonce, bytes. */
export const NONCE_BYTES = 32;

const bytesOf = (length: number) =>
  v.custom<Uint8Array>((b) => b instanceof Uint8Array && b.byteLength === length, `expected ${length} bytes`);

const helloSchema = v.strictObject({
  type: v.literal('auth-hello'),
  v: v.literal(1),
  nodeId: v.pipe(v.string(), v.regex(/^[a-z2-7]{24}$/)),
  publicKey: bytesOf(PUBLIC_KEY_BYTES),
  nonce: bytesOf(NONCE_BYTES),
});
const proofSchema = v.strictObject({
  type: v.literal('auth-proof'),
  signature: bytesOf(SIGNATURE_BYTES),
  mac: bytesOf(32),
});

/** The first handshake message of each end. */
export type HelloMessage = v.InferOutput<typeof helloSchema>;
/** The second handshake message of each end. */
export type ProofMessage = v.InferOutput<typeof proofSchema>;
/** A handshake message. */
export type HandshakeMessage = HelloMessage | ProofMessage;

/** True for a decoded frame that belongs to the handshake (by its `type`; not yet validated). */
export function isHandshakeMessage(message: unknown): boolean {
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  return type === 'auth-hello' || type === 'auth-proof';
}

/** Why a handshake failed; each is counted by the transport. */
export type HandshakeFailure =
  /** A frame that is not a well-formed handshake message, or one out of order. */
  | 'malformed'
  /** The other end is not the node this connection is for, or its id is not its key's. */
  | 'wrong-node'
  /** The other end is a node this one refuses (removed from the cluster). */
  | 'not-admitted'
  /** The MAC does not verify: the other end does not hold the cluster secret (or saw other fingerprints). */
  | 'bad-mac'
  /** The signature does not verify: not the node key (or other fingerprints, or another nonce). */
  | 'bad-signature'
  /** A connection without DTLS fingerprints on both ends cannot be bound. */
  | 'no-fingerprint'
  /** No proof before the connection's setup deadline (the transport's `connectTimeoutMs`). */
  | 'timeout';

/** A failed handshake. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  constructor(
    readonly reason: HandshakeFailure,
    message: string,
  ) {
    super(message);
  }
}

/** What a {@link HandshakeSession} needs. */
export interface HandshakeOptions {
  key: NodeKey;
  cluster: ClusterKeys;
  /** True on the end that opened the connection. */
  dialer: boolean;
  /** The node this connection is for (from its PeerJS id). */
  expectedPeer: NodeId;
  /** This end's DTLS certificate fingerprint, as in its SDP (see {@link sdpFingerprint}). */
  localFingerprint: string;
  /** The fingerprint the other end presented. */
  remoteFingerprint: string;
  /** False for nodes this end refuses to talk to (e.g. removed ones). Default: everyone. */
  admit?: (node: NodeId) => boolean;
  /** Default: crypto.getRandomValues. */
  randomNonce?: () => Uint8Array;
}

/** What to do after a frame: send `reply` (if any); `peer` once the other end is authenticated. */
export interface HandshakeStep {
  reply?: HandshakeMessage;
  peer?: NodeId;
}

/**
 * One end of one connection's handshake. Call {@link hello} once and send it; pass each handshake
 * frame from the other end to {@link receive}, in order, awaiting each.
 */
export class HandshakeSession {
  private readonly nonce: Uint8Array;
  private theirs: HelloMessage | undefined;
  private transcript: Uint8Array | undefined;
  private done = false;

  constructor(private readonly options: HandshakeOptions) {
    this.nonce = options.randomNonce?.() ?? crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  }

  /** This end's hello. */
  hello(): HelloMessage {
    return { type: 'auth-hello', v: 1, nodeId: this.options.key.nodeId, publicKey: this.options.key.publicKey, nonce: this.nonce };
  }

  /** True once the other end proved itself. */
  get authenticated(): boolean {
    return this.done;
  }

  /**
   * Takes the other end's next handshake frame.
   * @returns this end's proof after their hello; `{ peer }` after their valid proof.
   * @throws HandshakeError when the frame is malformed, out of order, or does not prove what it must.
   */
  async receive(input: unknown): Promise<HandshakeStep> {
    const { localFingerprint, remoteFingerprint } = this.options;
    if (!localFingerprint || !remoteFingerprint) throw new HandshakeError('no-fingerprint', 'the connection has no DTLS fingerprints to bind to');
    if (this.done) throw new HandshakeError('malformed', 'a handshake message after the handshake');
    if (this.theirs === undefined) {
      const hello = v.safeParse(helloSchema, input);
      if (!hello.success) throw new HandshakeError('malformed', 'expected a hello');
      const theirs = hello.output;
      if (theirs.nodeId !== this.options.expectedPeer) throw new HandshakeError('wrong-node', `hello from ${theirs.nodeId} on a connection to ${this.options.expectedPeer}`);
      if ((await nodeIdOf(theirs.publicKey)) !== theirs.nodeId) throw new HandshakeError('wrong-node', `the key presented is not the key of ${theirs.nodeId}`);
      if (this.options.admit && !this.options.admit(theirs.nodeId)) throw new HandshakeError('not-admitted', `${theirs.nodeId} is not admitted`);
      this.theirs = theirs;
      this.transcript = await this.transcriptHash(theirs);
      const mine = this.roleText(this.options.dialer);
      const [signature, mac] = await Promise.all([
        signBytes(this.options.key, concatBytes(mine, this.transcript)),
        crypto.subtle.sign('HMAC', this.options.cluster.handshakeKey, concatBytes(mine, this.transcript)),
      ]);
      return { reply: { type: 'auth-proof', signature, mac: new Uint8Array(mac) } };
    }
    const proof = v.safeParse(proofSchema, input);
    if (!proof.success) throw new HandshakeError('malformed', 'expected a proof');
    const signed = concatBytes(this.roleText(!this.options.dialer), this.transcript!);
    const macOk = await crypto.subtle.verify('HMAC', this.options.cluster.handshakeKey, ownBytes(proof.output.mac), signed);
    if (!macOk) throw new HandshakeError('bad-mac', `${this.theirs.nodeId} did not prove the cluster secret for this connection`);
    if (!(await verifySignature(this.theirs.publicKey, signed, proof.output.signature))) {
      throw new HandshakeError('bad-signature', `${this.theirs.nodeId} did not prove its key for this connection`);
    }
    this.done = true;
    return { peer: this.theirs.nodeId };
  }

  private roleText(dialer: boolean): Uint8Array {
    return utf8(dialer ? 'proof/dialer/' : 'proof/acceptor/');
  }

  private async transcriptHash(theirs: HelloMessage): Promise<Uint8Array> {
    const { dialer, cluster, localFingerprint, remoteFingerprint } = this.options;
    const mine = this.hello();
    const [d, a] = dialer ? [mine, theirs] : [theirs, mine];
    const [fpD, fpA] = dialer ? [localFingerprint, remoteFingerprint] : [remoteFingerprint, localFingerprint];
    const parts = [utf8('tabdynamo-handshake/v1'), utf8(cluster.tag), utf8(fpD), utf8(fpA), utf8(d.nodeId), utf8(a.nodeId), d.publicKey, a.publicKey, d.nonce, a.nonce];
    return new Uint8Array(await crypto.subtle.digest('SHA-256', lengthPrefixed(parts)));
  }
}

/** Each part preceded by its length (4 bytes, big-endian), so that no two part lists encode alike. */
function lengthPrefixed(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out: Uint8Array[] = [];
  for (const part of parts) {
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, part.byteLength);
    out.push(length, part);
  }
  return concatBytes(...out);
}

/**
 * The DTLS certificate fingerprint(s) an SDP announces (`a=fingerprint:<hash> <hex>`, RFC 8122),
 * normalised (hash name lowercase, hex uppercase) and joined with ',' in sorted order; '' when none.
 */
export function sdpFingerprint(sdp: string | undefined): string {
  if (!sdp) return '';
  const found = new Set<string>();
  for (const match of sdp.matchAll(/^a=fingerprint:(\S+)\s+([0-9A-Fa-f:]+)\s*$/gm)) {
    found.add(`${match[1]!.toLowerCase()} ${match[2]!.toUpperCase()}`);
  }
  return [...found].sort().join(',');
}
