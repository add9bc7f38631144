/**
 * Small render functions of the page. Each takes plain data from the public API and writes DOM nodes
 * with `textContent` only (data is never parsed as HTML). Arc geometry comes from d3-shape.
 */
import { schemeTableau10 } from 'd3-scale-chromatic';
import { arc } from 'd3-shape';
import type { MemberRecord } from '../core/membership.js';
import type { SiblingView } from '../core/node-core.js';
import type { Ring } from '../core/ring.js';

const SVG = 'http://www.w3.org/2000/svg';

/** One line of the activity log. */
export interface LogEntry {
  atMs: number;
  text: string;
}

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

/** Draws the Q partitions as arcs coloured by owner, this node's outlined; a legend lists owners. */
export function renderRing(svg: SVGSVGElement, legend: HTMLElement, ring: Ring, self: string): void {
  const q = ring.partitionCount;
  const owners = ring.members.length > 0 ? ring.owners() : [];
  const shape = arc<number>()
    .innerRadius(62)
    .outerRadius(100)
    .startAngle((p) => (p / q) * 2 * Math.PI)
    .endAngle((p) => ((p + 1) / q) * 2 * Math.PI)
    .padAngle(q <= 64 ? 0.01 : 0);
  // A thin band inside the ring marks the partitions this tab owns.
  const ownMark = arc<number>()
    .innerRadius(55)
    .outerRadius(59)
    .startAngle((p) => (p / q) * 2 * Math.PI)
    .endAngle((p) => ((p + 1) / q) * 2 * Math.PI);
  const colours = nodeColours(ring.members.map((m) => m.id));
  svg.replaceChildren();
  for (let p = 0; p < owners.length; p++) {
    const owner = owners[p]!;
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', shape(p) ?? '');
    path.setAttribute('fill', colours.get(owner) ?? 'gray');
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `partition ${p}: ${owner}${owner === self ? ' (this tab)' : ''}`;
    path.append(title);
    svg.append(path);
    if (owner === self) {
      const mark = document.createElementNS(SVG, 'path');
      mark.setAttribute('d', ownMark(p) ?? '');
      mark.setAttribute('class', 'mine');
      svg.append(mark);
    }
  }
  const label = document.createElementNS(SVG, 'text');
  label.setAttribute('text-anchor', 'middle');
  label.setAttribute('dy', '0.35em');
  label.textContent = `${q} partitions`;
  svg.append(label);
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

/** Fills the members table. */
export function renderMembers(
  tbody: HTMLElement,
  members: MemberRecord[],
  ring: Ring,
  self: string,
  connected: string[],
  reachability: ReadonlyMap<string, string>,
): void {
  tbody.replaceChildren(
    ...members.map((m) => {
      const row = document.createElement('tr');
      row.dataset.node = m.id;
      if (m.id === self) row.className = 'self';
      const partitions = ring.members.some((r) => r.id === m.id) ? ring.partitionsOf(m.id).length : 0;
      const seen = m.id === self ? 'this tab' : (reachability.get(m.id) ?? 'alive');
      const link = m.id === self ? '' : connected.includes(m.id) ? ' · linked' : '';
      row.dataset.reachability = seen;
      row.title = `record version ${m.version}, incarnation ${m.incarnation}, joined ${new Date(m.joinedAtMs).toLocaleString()}`;
      const moving = m.pending.length + m.handoffs.length > 0 ? ` (receiving ${m.pending.length}, handing off ${m.handoffs.length})` : '';
      for (const text of [m.id, m.status + moving, `${seen}${link}`, String(partitions), String(m.capacity)]) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.append(cell);
      }
      const actions = document.createElement('td');
      // Removal is for nodes gone for good; offered only for members this node cannot reach.
      if (m.id !== self && m.status !== 'left' && seen === 'unreachable') {
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'secondary small';
        remove.dataset.remove = m.id;
        remove.textContent = 'Remove';
        remove.setAttribute('aria-label', `Remove ${m.id} from the ring for good`);
        actions.append(remove);
      }
      row.append(actions);
      return row;
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

/** Renders the activity log, newest first. */
export function renderLog(list: HTMLElement, entries: LogEntry[]): void {
  list.replaceChildren(
    ...entries.map((e) => {
      const item = document.createElement('li');
      const time = document.createElement('time');
      time.textContent = new Date(e.atMs).toLocaleTimeString();
      item.append(time, ' ', e.text);
      return item;
    }),
  );
}

function showValue(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.byteLength} bytes>` : v), 2) ?? 'null';
}
