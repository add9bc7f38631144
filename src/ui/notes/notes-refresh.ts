/**
 * When the notes are read again. Reads follow the node's events, batched, and a slow period:
 *
 * ```
 *   'key-changed' on the index or a note ──▶ that key, 150 ms later (one read per key however many events)
 *   back online: 'connectivity', 'hints-delivered', a peer 'alive' (or the browser's 'online')
 *                                          ──▶ everything, 300 ms later (once, however many ask)
 *   every 5 s while the notes are on screen or edits wait in the outbox ──▶ everything
 *   the notes come on screen ──────────────▶ everything, now
 * ```
 *
 * Any reachability change and the browser's 'offline' only announce `notes` (the page redraws its
 * connection state). What "a key" and "everything" mean is the service's ({@link RefreshTargets}).
 */
import type { DynamoEvent } from '../../index.js';
import { NOTE_KEY_PREFIX, NOTES_INDEX_KEY } from './note-model.js';
import { describeError, type EmitChange, type NotesNode } from './note-state.js';

/** The period of the full read while the notes are on screen or edits wait, ms. */
const REFRESH_PERIOD_MS = 5000;
/** How long changed keys gather before they are read, ms. */
const KEY_REFRESH_DELAY_MS = 150;
/** How long a full read waits once connectivity came back (the failure detector needs a moment), ms. */
const REFRESH_ALL_DELAY_MS = 300;

/** What a refresh reads (the notes service). */
export interface RefreshTargets {
  /** Reads the index and every listed note, then syncs the outbox; never throws. */
  refreshAll(): Promise<void>;
  /** Reads one changed key (the index, or a note's key). @throws what the read throws. */
  refreshKey(key: string): Promise<void>;
  /** Edits waiting in the outbox (the periodic read goes on while there are any). */
  pendingCount(): number;
  emit: EmitChange;
}

/** Schedules the notes' reads for one service (see the module comment). */
export class NotesRefresh {
  private readonly queue = new Set<string>();
  private keyTimer: ReturnType<typeof setTimeout> | undefined;
  private allTimer: ReturnType<typeof setTimeout> | undefined;
  private periodic: ReturnType<typeof setInterval> | undefined;
  private visible = false;
  private readonly unsubscribe: () => void;

  /** Follows `node`'s events and, where there is a window, the browser's online and offline events. */
  constructor(
    node: Pick<NotesNode, 'on'>,
    private readonly targets: RefreshTargets,
  ) {
    const unsubscribe = node.on('*', (event: DynamoEvent) => this.onEvent(event));
    // The browser's own idea of the network (a real loss of connection): show it, and sync when it is back.
    const online = (): void => void targets.refreshAll();
    const offline = (): void => targets.emit({ type: 'notes' });
    if (typeof window !== 'undefined') {
      window.addEventListener('online', online);
      window.addEventListener('offline', offline);
    }
    this.unsubscribe = () => {
      unsubscribe();
      if (typeof window !== 'undefined') {
        window.removeEventListener('online', online);
        window.removeEventListener('offline', offline);
      }
    };
  }

  /** Starts the periodic read (every 5 s while the notes are on screen or edits wait). */
  start(): void {
    this.periodic = setInterval(() => {
      if (this.visible || this.targets.pendingCount() > 0) void this.targets.refreshAll();
    }, REFRESH_PERIOD_MS);
  }

  /** Whether the notes are on screen; coming on screen reads everything at once. */
  setVisible(visible: boolean): void {
    const was = this.visible;
    this.visible = visible;
    if (visible && !was) void this.targets.refreshAll();
  }

  /** Stops every timer and stops following the node and the browser. */
  stop(): void {
    clearInterval(this.periodic);
    clearTimeout(this.keyTimer);
    clearTimeout(this.allTimer);
    this.unsubscribe();
  }

  /** Reads `key` shortly after (one read per key however many events or writes ask meanwhile). */
  queueRefresh(key: string): void {
    this.queue.add(key);
    if (this.keyTimer !== undefined) return;
    this.keyTimer = setTimeout(() => {
      this.keyTimer = undefined;
      const keys = [...this.queue];
      this.queue.clear();
      void (async () => {
        try {
          for (const queued of keys) await this.targets.refreshKey(queued);
          this.targets.emit({ type: 'notes' });
        } catch (error) {
          this.targets.emit({ type: 'error', message: describeError(error) });
        }
      })();
    }, KEY_REFRESH_DELAY_MS);
  }

  private onEvent(event: DynamoEvent): void {
    if (event.type === 'key-changed' && (event.key === NOTES_INDEX_KEY || event.key.startsWith(NOTE_KEY_PREFIX))) this.queueRefresh(event.key);
    else if (event.type === 'connectivity' || event.type === 'hints-delivered' || (event.type === 'reachability' && event.to === 'alive')) {
      // Connectivity came back: sync soon (the failure detector needs a moment to see peers alive).
      this.targets.emit({ type: 'notes' });
      if (this.visible || this.targets.pendingCount() > 0) this.refreshSoon();
    } else if (event.type === 'reachability') this.targets.emit({ type: 'notes' });
  }

  /** One full read 300 ms from now, however many events ask for it meanwhile (peers flapping between suspect and alive send many). */
  private refreshSoon(): void {
    if (this.allTimer !== undefined) return;
    this.allTimer = setTimeout(() => {
      this.allTimer = undefined;
      void this.targets.refreshAll();
    }, REFRESH_ALL_DELAY_MS);
  }
}
