/**
 * Small render functions of the page. Each takes plain data from the public API and writes DOM nodes
 * with `textContent` only (data is never parsed as HTML). The explorer's ring and panels are in ./explorer.
 */
import { schemeTableau10 } from 'd3-scale-chromatic';
import { actorNode, type Ring, type SiblingView } from '../index.js';
import { logLineText, type LogEntry } from './explorer/activity-log.js';
import { placeAfter } from './explorer/patch.js';


/**
 * Colours of nodes, stable for each node: nodes are ranked by when they first joined (`joinedAtMs`
 * of their gossiped record, the same in every tab; ties by id), the first ten take Tableau10's
 * colours in that order and later ones hues spread by the golden angle. A node joining later takes
 * the next colour and changes no one else's, so a join does not repaint the whole ring.
 */
export function nodeColours(members: readonly { id: string; joinedAtMs: number }[]): Map<string, string> {
  const ranked = [...members].sort((a, b) => a.joinedAtMs - b.joinedAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const colours = new Map<string, string>();
  ranked.forEach((m, i) => {
    colours.set(m.id, i < schemeTableau10.length ? schemeTableau10[i]! : `hsl(${Math.round((i * 137.508) % 360)} 60% 48%)`);
  });
  return colours;
}

/**
 * The ring's legend, kept in place: one item per owner (keyed by node id) with its colour, id and
 * partition count; an item's swatch and text are rewritten only when they changed, and items follow
 * the ring's member order.
 */
export class LegendView {
  private readonly items = new Map<string, { item: HTMLLIElement; swatch: HTMLSpanElement; text: Text }>();

  constructor(private readonly list: HTMLElement) {}

  update(ring: Ring, self: string, colours: ReadonlyMap<string, string>): void {
    const seen = new Set<string>();
    let previous: Element | null = null;
    for (const m of ring.members) {
      seen.add(m.id);
      let entry = this.items.get(m.id);
      if (!entry) {
        const item = document.createElement('li');
        item.dataset.node = m.id;
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        const text = document.createTextNode('');
        item.append(swatch, text);
        entry = { item, swatch, text };
        this.items.set(m.id, entry);
      }
      const colour = colours.get(m.id) ?? 'gray';
      if (entry.swatch.dataset.colour !== colour) {
        entry.swatch.dataset.colour = colour;
        entry.swatch.style.background = colour;
      }
      const label = `${m.id}${m.id === self ? ' (this tab)' : ''}: ${ring.partitionsOf(m.id).length}`;
      if (entry.text.data !== label) entry.text.data = label;
      previous = placeAfter(this.list, previous, entry.item);
    }
    for (const [id, entry] of this.items) {
      if (seen.has(id)) continue;
      entry.item.remove();
      this.items.delete(id);
    }
  }
}

/** Shows the versions a get returned, each with the write (dot) that made it. */
export function renderSiblings(list: HTMLElement, siblings: SiblingView[]): void {
  list.replaceChildren(
    ...siblings.map((s) => {
      const item = document.createElement('li');
      const value = document.createElement('pre');
      value.textContent = s.deleted ? '(deleted)' : showValue(s.value);
      const meta = document.createElement('small');
      meta.textContent = `written by ${actorNode(s.version.node)} as write #${s.version.counter} at ${new Date(s.version.timestampMs).toLocaleTimeString()}`;
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
