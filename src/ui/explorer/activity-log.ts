/**
 * The activity log's lines, without the DOM: newest first, at most `maxLines`. A busy node produces
 * dozens of events a second (a hint stored per key while a replica is down, a put per coordinated
 * write), which no one can read and which would make the page lay out a new line dozens of times a
 * second. So events of one kind arriving within {@link LOG_MERGE_WINDOW_MS} of the first share its
 * line: the line shows the latest of them and how many more there were.
 */

/** One line of the activity log. */
export interface LogEntry {
  /** Unique per log (the line's key in the page). */
  seq: number;
  /** When the first event of the line arrived, ms since the epoch. */
  atMs: number;
  /** What merges lines (an event type), or undefined for events that always get a line of their own. */
  kind: string | undefined;
  /** The latest event's description. */
  text: string;
  /** Events in this line (1 or more). */
  count: number;
  /** Changes whenever the line's text does (the page rewrites the line when it sees a new one). */
  rev: number;
}

/** Events of one kind within this long of a line's first event join that line, ms. */
export const LOG_MERGE_WINDOW_MS = 1000;

export class ActivityLog {
  private readonly lines: LogEntry[] = [];
  private seq = 0;
  private rev = 0;

  /** @param maxLines lines kept (the oldest fall off). */
  constructor(private readonly maxLines = 40) {}

  /** Changes whenever a line is added or changed (a redraw's key, render-scheduler.ts). */
  get version(): number {
    return this.rev;
  }

  /** The lines, newest first. Read-only: the log changes them in place. */
  get entries(): readonly LogEntry[] {
    return this.lines;
  }

  /**
   * Adds an event's line, or merges it into the line of the same `kind` begun less than
   * {@link LOG_MERGE_WINDOW_MS} ago. `kind` undefined: never merged (membership changes, errors).
   */
  add(kind: string | undefined, text: string, nowMs: number): void {
    this.rev++;
    const open = kind === undefined ? undefined : this.lines.find((line) => line.kind === kind && nowMs - line.atMs < LOG_MERGE_WINDOW_MS);
    if (open) {
      open.count++;
      open.text = text;
      open.rev = this.rev;
      return;
    }
    this.lines.unshift({ seq: ++this.seq, atMs: nowMs, kind, text, count: 1, rev: this.rev });
    if (this.lines.length > this.maxLines) this.lines.length = this.maxLines;
  }
}

/** The text a line shows: the latest event, and how many more of its kind arrived with it. */
export function logLineText(entry: LogEntry): string {
  return entry.count === 1 ? entry.text : `${entry.text} (+${entry.count - 1} more like it within ${LOG_MERGE_WINDOW_MS / 1000} s)`;
}
