/**
 * Signaling between tabs of one browser profile over a `BroadcastChannel` (same origin; as y-webrtc
 * does), with no server at all (DESIGN.md §3 "Signaling paths").
 *
 * Every node of a cluster in this browser joins the channel `tabdynamo-signal:<cluster>` and says
 * `hello` when it starts and every `PRESENCE_INTERVAL_MS`; a node that hears a `hello` from a node it
 * did not know answers at once, so two tabs know each other within one message. `bye` on close. A node
 * not heard from for `PRESENCE_TTL_MS` is no longer present (its tab was closed or frozen). Signals for
 * a present node are posted on the channel; every tab receives them and keeps those addressed to it.
 *
 * Messages on the channel come from pages of the same origin, but they are still checked
 * (`parseSignal`) before PeerJS sees them.
 */
import * as v from 'valibot';
import type { NodeId } from '../core/types.js';
import { parseSignal, type Signal } from './signal-message.js';

/** How often a node says it is here, ms. */
export const PRESENCE_INTERVAL_MS = 5_000;
/** How long a node counts as present after it was last heard, ms. */
export const PRESENCE_TTL_MS = 15_000;

/** The part of `BroadcastChannel` used here (tests may pass another). */
export interface ChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}

/** The channel name of a cluster. */
export function channelName(cluster: string): string {
  return `tabdynamo-signal:${cluster}`;
}

const nodeId = v.pipe(v.string(), v.regex(/^[a-z0-9]{1,64}$/));
const presence = v.object({ t: v.picklist(['hello', 'bye']), from: nodeId, to: v.optional(nodeId) });

/** Options of {@link BroadcastSignaling}. */
export interface BroadcastSignalingOptions {
  cluster: string;
  self: NodeId;
  /** A signal for this node arrived. */
  onSignal(signal: Signal): void;
  /** A node of this browser was heard for the first time (or again after it had gone). */
  onPresent?(node: NodeId): void;
  /** A message on the channel failed its schema. */
  onMalformed?(reason: string): void;
  nowMs?(): number;
  /** Default: `new BroadcastChannel(channelName(cluster))`. */
  channel?: ChannelLike;
}

/** This node's side of its browser's signaling channel. */
export class BroadcastSignaling {
  private readonly channel: ChannelLike;
  /** Present nodes and when each was last heard, ms. */
  private readonly present = new Map<NodeId, number>();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly nowMs: () => number;
  private closed = false;

  constructor(private readonly options: BroadcastSignalingOptions) {
    this.nowMs = options.nowMs ?? (() => Date.now());
    this.channel = options.channel ?? (new BroadcastChannel(channelName(options.cluster)) as unknown as ChannelLike);
    this.channel.onmessage = (event) => this.onMessage(event.data);
    this.post({ t: 'hello', from: options.self });
    this.timer = setInterval(() => this.post({ t: 'hello', from: options.self }), PRESENCE_INTERVAL_MS);
  }

  /** Nodes of this browser heard within `PRESENCE_TTL_MS`, sorted. */
  nodes(): NodeId[] {
    const nowMs = this.nowMs();
    return [...this.present].filter(([, at]) => nowMs - at <= PRESENCE_TTL_MS).map(([node]) => node).sort();
  }

  /** Whether `node` is a tab of this browser heard recently. */
  has(node: NodeId): boolean {
    const at = this.present.get(node);
    return at !== undefined && this.nowMs() - at <= PRESENCE_TTL_MS;
  }

  /** Posts `signal` when its destination is present here; false otherwise (nothing sent). */
  send(signal: Signal): boolean {
    if (this.closed || !this.has(signal.to)) return false;
    this.post({ t: 'signal', signal });
    return true;
  }

  /** Says goodbye and leaves the channel. */
  close(): void {
    if (this.closed) return;
    this.post({ t: 'bye', from: this.options.self });
    this.closed = true;
    clearInterval(this.timer);
    this.channel.onmessage = null;
    this.channel.close();
  }

  private post(message: unknown): void {
    if (this.closed) return;
    try {
      this.channel.postMessage(message);
    } catch {
      // A closed channel (the page is going away): nothing to do.
    }
  }

  private onMessage(data: unknown): void {
    if (this.closed || typeof data !== 'object' || data === null) return;
    const kind = (data as { t?: unknown }).t;
    if (kind === 'signal') {
      let signal: Signal;
      try {
        signal = parseSignal((data as { signal?: unknown }).signal);
      } catch (error) {
        this.options.onMalformed?.((error as Error).message);
        return;
      }
      if (signal.to !== this.options.self) return;
      // A signal proves its sender is here.
      this.heard(signal.from);
      this.options.onSignal(signal);
      return;
    }
    const parsed = v.safeParse(presence, data);
    if (!parsed.success) {
      this.options.onMalformed?.(`invalid presence message: ${parsed.issues[0].message}`);
      return;
    }
    const { t, from, to } = parsed.output;
    if (from === this.options.self || (to !== undefined && to !== this.options.self)) return;
    if (t === 'bye') {
      this.present.delete(from);
      return;
    }
    const isNew = this.heard(from);
    // Answer a node we did not know, so that it learns of us now, not at our next round.
    if (isNew && to === undefined) this.post({ t: 'hello', from: this.options.self, to: from });
  }

  /** Records that `node` was heard; true when it was not present before. */
  private heard(node: NodeId): boolean {
    const wasPresent = this.has(node);
    this.present.set(node, this.nowMs());
    if (!wasPresent) this.options.onPresent?.(node);
    return !wasPresent;
  }
}
