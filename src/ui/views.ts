/**
 * Small render functions of the page. Each takes plain data from the public API and writes DOM nodes
 * with `textContent` only (data is never parsed as HTML). The explorer's ring and panels are in ./explorer.
 */
import { schemeTableau10 } from 'd3-scale-chromatic';
import type { SiblingView } from '../core/node-core.js';
import type { Ring } from '../core/ring.js';
import { logLineText, type LogEntry } from './explorer/activity-log.js';

function hashId(id: string): number {
  let hash = 2166136261;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 16777619);
  return hash >>> 0;
}

/**
 * Colours for a set of node ids: each id prefers one of ten well-separated colours (by a hash of the
 * id) and takes the next free one on a clash; past ten nodes, hues come from the hash. The result
 * depends only on the set, so every tab shows a node in the same colour.
 */
export function nodeColours(ids: readonly string[]): Map<string, string> {
  const colours = new Map<string, string>();
  const taken = new Set<number>();
  const byHash = [...ids].sort((a, b) => hashId(a) - hashId(b) || (a < b ? -1 : 1));
  for (const id of byHash) {
    if (taken.size >= schemeTableau10.length) {
      colours.set(id, `hsl(${hashId(id) % 360} 55% 50%)`);
      continue;
    }
    // Tableau10's eight vivid colours first; its brown and grey only once those are taken.
    const vivid = taken.size < 8 ? 8 : schemeTableau10.length;
    let slot = hashId(id) % vivid;
    while (taken.has(slot)) slot = (slot + 1) % schemeTableau10.length;
    taken.add(slot);
    colours.set(id, schemeTableau10[slot]!);
  }
  return colours;
}

/** The ring's legend: each owner's colour, id and partition count. */
export function renderLegend(legend: HTMLElement, ring: Ring, self: string, colours: ReadonlyMap<string, string>): void {
  legend.replaceChildren(
    ...ring.members.map((m) => {
      const item = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colours.get(m.id) ?? 'gray';
      item.append(swatch, `${m.id}${m.id === self ? ' (this tab)' : ''}: ${ring.partitionsOf(m.id).length}`);
      return item;
    }),
  );
}

/** Shows the versions a get returned, each with the write (dot) that made it. */
export function renderSiblings(list: HTMLElement, siblings: SiblingView[]): void {
  list.replaceChildren(
    ...siblings.map((s) => {
      const item = document.createElement('li');
      const value = document.createElement('pre');
      value.textContent = s.deleted ? '(deleted)' : showValue(s.value);
      const meta = document.createElement('small');
      meta.textContent = `written by ${s.version.node} as write #${s.version.counter} at ${new Date(s.version.timestampMs).toLocaleTimeString()}`;
      item.append(value, meta);
      return item;
    }),
  );
}

/**
 * The activity log, newest first, kept in place: a redraw adds the lines that are new (at the top),
 * rewrites the text of lines that took more events (see ActivityLog), and removes those that fell
 * off the end; other lines are not touched (the log changes on almost every redraw of a busy node).
 */
export class LogView {
  private readonly shown = new Map<number, { item: HTMLLIElement; text: Text; rev: number }>();

  constructor(private readonly list: HTMLElement) {}

  /** Shows `entries` (newest first; a new entry is always newer than every shown one). */
  update(entries: readonly LogEntry[]): void {
    const wanted = new Map(entries.map((e) => [e.seq, e] as const));
    for (const [seq, line] of this.shown) {
      const entry = wanted.get(seq);
      if (entry === undefined) {
        line.item.remove();
        this.shown.delete(seq);
      } else if (entry.rev !== line.rev) {
        line.text.data = logLineText(entry);
        line.rev = entry.rev;
      }
    }
    const fresh = entries.filter((e) => !this.shown.has(e.seq));
    if (fresh.length === 0) return;
    const items = fresh.map((e) => {
      const item = document.createElement('li');
      item.dataset.key = `log-${e.seq}`;
      const time = document.createElement('time');
      time.textContent = new Date(e.atMs).toLocaleTimeString();
      const text = document.createTextNode(logLineText(e));
      item.append(time, ' ', text);
      this.shown.set(e.seq, { item, text, rev: e.rev });
      return item;
    });
    this.list.prepend(...items);
  }
}

function showValue(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.byteLength} bytes>` : v), 2) ?? 'null';
}
