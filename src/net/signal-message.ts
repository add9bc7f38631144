/**
 * WebRTC signaling messages as they travel on every signaling path (server, relay through the
 * cluster, BroadcastChannel between tabs of one browser), and their schema.
 *
 * They are PeerJS's own messages (peerjs 1.5.5, `Negotiator`): an OFFER opens a data connection, the
 * ANSWER accepts it, CANDIDATEs carry ICE candidates; each names the PeerJS connection it belongs to
 * (`payload.connectionId`). EXPIRE tells PeerJS that a destination cannot be reached. Whatever path a
 * signal arrives on, it is untrusted: {@link parseSignal} checks it before PeerJS sees it, so a peer can
 * make a node neither crash nor allocate without bound, and a relay forwards nothing but signals of
 * these shapes (DESIGN.md §3 "Signaling paths", §4).
 */
import * as v from 'valibot';
import { MAX_NODE_ID_LENGTH } from '../core/messages.js';

/** The signal kinds that set up a connection. */
export type SignalKind = 'OFFER' | 'ANSWER' | 'CANDIDATE';

/** Longest SDP accepted, in characters (a data-channel SDP is 1–3 KiB; ICE restarts add candidates). */
export const MAX_SDP_LENGTH = 16 * 1024;

const nodeId = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_NODE_ID_LENGTH), v.regex(/^[a-z0-9]+$/));
const connectionId = v.pipe(v.string(), v.minLength(1), v.maxLength(64), v.regex(/^[A-Za-z0-9_-]+$/));
const sdp = v.object({ type: v.picklist(['offer', 'answer']), sdp: v.pipe(v.string(), v.maxLength(MAX_SDP_LENGTH)) });
const candidate = v.object({
  candidate: v.pipe(v.string(), v.maxLength(2048)),
  sdpMid: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(64)))),
  sdpMLineIndex: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(64)))),
  usernameFragment: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(256)))),
});

const offerPayload = v.object({
  sdp,
  // Data connections only: a node never accepts a media call.
  type: v.literal('data'),
  connectionId,
  label: v.optional(v.pipe(v.string(), v.maxLength(128))),
  reliable: v.optional(v.boolean()),
  serialization: v.optional(v.pipe(v.string(), v.maxLength(32))),
  metadata: v.optional(v.null()),
});
const answerPayload = v.object({ sdp, type: v.literal('data'), connectionId });
const candidatePayload = v.object({ candidate, type: v.literal('data'), connectionId });

const signalSchema = v.variant('kind', [
  v.object({ kind: v.literal('OFFER'), from: nodeId, to: nodeId, payload: offerPayload }),
  v.object({ kind: v.literal('ANSWER'), from: nodeId, to: nodeId, payload: answerPayload }),
  v.object({ kind: v.literal('CANDIDATE'), from: nodeId, to: nodeId, payload: candidatePayload }),
]);

/** A signal from node `from` to node `to`. */
export type Signal = v.InferOutput<typeof signalSchema>;

/** A signal that failed {@link parseSignal}. */
export class InvalidSignalError extends Error {
  override name = 'InvalidSignalError';
}

/**
 * Checks an untrusted value against the signal schema. Unknown fields are dropped (valibot's `object`),
 * so what is forwarded or handed to PeerJS is exactly the fields listed here.
 * @returns the signal, as a fresh plain object.
 * @throws InvalidSignalError naming the first problem.
 */
export function parseSignal(value: unknown): Signal {
  const result = v.safeParse(signalSchema, value);
  if (!result.success) {
    const issue = result.issues[0];
    const where = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new InvalidSignalError(`invalid signal${where ? ` at ${where}` : ''}: ${issue.message}`);
  }
  return result.output;
}

/** The connection a signal belongs to. */
export function connectionIdOf(signal: Signal): string {
  return signal.payload.connectionId;
}

/** Turns what PeerJS hands its socket (RTCIceCandidate and description objects included) into plain data. */
export function toPlain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}
