/**
 * Batches of small messages on one data channel: the messages a node sends to one peer within one
 * turn of the event loop (say, the acks of every write one group commit made durable, or the
 * replica-puts of every put a batch of writes coordinated) leave as one data-channel message instead
 * of one each. Every data-channel message costs a send call, an SCTP packet, a hop from the network
 * thread to the page's main thread and an event on each end; under load those costs, not the bytes,
 * bound how many writes per second a tab carries.
 *
 *   link-features { batches: true }     each end says, once its connection is open, that it reads
 *                                       batches; a peer of an earlier version drops this message
 *                                       (counted) and is never sent a batch
 *   link-batch { messages: [bytes…] }   the encoded messages, in the order they were sent; the
 *                                       receiver decodes and delivers each as if it had come alone
 *
 * Order is kept: a batch holds consecutive messages of one connection, and anything else written on
 * the connection (a large message, a relay envelope, a drain notice) first writes the batch waiting
 * before it. A message that is large on its own is never batched.
 */

/** Tells the other end of a connection that this node reads `link-batch` messages. */
export const LINK_FEATURES = { type: 'link-features', batches: true } as const;

/** Messages at most this large (encoded) wait for the others of their turn; larger ones go alone. */
export const BATCHED_MESSAGE_MAX_BYTES = 16 * 1024;

/** A batch waiting for its turn to end is written at once when it reaches this many bytes. */
export const BATCH_MAX_BYTES = 60 * 1024;

/** Most messages one received batch may hold; a batch with more is dropped whole (hostile). */
export const BATCH_MAX_MESSAGES = 4096;

/** A batch of encoded messages, for the wire. */
export interface LinkBatch {
  type: 'link-batch';
  messages: Uint8Array[];
}

/** True for a decoded message announcing the other end's link features (not validated beyond its type). */
export function isLinkFeatures(message: unknown): message is { type: 'link-features'; batches?: unknown } {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === LINK_FEATURES.type;
}

/** True for a decoded message that claims to be a batch (its contents are checked by {@link batchMessages}). */
export function isLinkBatch(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'link-batch';
}

/**
 * The encoded messages of a received batch, in order.
 * @throws Error naming what is wrong when it is not an array of at most {@link BATCH_MAX_MESSAGES} byte
 *   strings (the caller drops the whole batch and counts it).
 */
export function batchMessages(message: unknown): Uint8Array[] {
  const messages = (message as { messages?: unknown }).messages;
  if (!Array.isArray(messages)) throw new Error('link-batch: messages is not an array');
  if (messages.length > BATCH_MAX_MESSAGES) throw new Error(`link-batch: ${messages.length} messages (at most ${BATCH_MAX_MESSAGES})`);
  for (const item of messages) if (!(item instanceof Uint8Array)) throw new Error('link-batch: a message is not bytes');
  return messages as Uint8Array[];
}
