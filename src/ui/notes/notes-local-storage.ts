/**
 * What one tab's node keeps of the notes in localStorage, under slots of its own:
 *
 * ```
 *   tabdynamo:<cluster>:<node id>:notes-outbox      edits not yet under a write quorum (notes-outbox.ts)
 *   tabdynamo:<cluster>:<node id>:notes-revisions   text of the versions seen (known-revisions.ts)
 * ```
 *
 * Per node, not per browser: a tab that takes over a closed tab's node takes over its outbox too. The
 * browser-wide cache of notes seen is elsewhere (notes-seen-cache.ts, IndexedDB).
 */

/** The localStorage calls used (a test passes a map). */
export type SlotStorage = Pick<Storage, 'getItem' | 'setItem'>;

/** JSON values under one node's notes slots. */
export class NotesLocalStorage {
  /**
   * @param onStoreError called when a value could not be stored (quota): the cluster still has the
   *   notes, so the page says so rather than failing the edit.
   */
  constructor(
    private readonly storage: SlotStorage,
    private readonly cluster: string,
    private readonly nodeId: string,
    private readonly onStoreError: (error: unknown) => void,
  ) {}

  /** The value stored under `name`, or undefined when there is none or it does not parse. */
  load<T>(name: string): T | undefined {
    try {
      const raw = this.storage.getItem(this.slot(name));
      return raw === null ? undefined : (JSON.parse(raw) as T);
    } catch {
      return undefined;
    }
  }

  /** Stores `value` (as JSON) under `name`; a failure goes to `onStoreError`, never to the caller. */
  store(name: string, value: unknown): void {
    try {
      this.storage.setItem(this.slot(name), JSON.stringify(value));
    } catch (error) {
      this.onStoreError(error);
    }
  }

  private slot(name: string): string {
    return `tabdynamo:${this.cluster}:${this.nodeId}:notes-${name}`;
  }
}
