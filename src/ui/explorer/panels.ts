/**
 * The explorer's text panels: a partition's details, a key's place on the ring, the members table and
 * the activity counters. Each is a function from plain data (taken from the node's public API) to DOM
 * nodes written with `textContent` only, so no data is ever parsed as HTML.
 */
import type { MemberRecord, TransferState } from '../../index.js';
import { placeAfter } from './patch.js';
import { formatAgeMs } from './signaling-model.js';

/** How this node sees a peer: the failure detector's view, 'cut off' while this tab is disconnected, or 'this tab'. */
export type Seen = string;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** A node chip: its colour, its id, its role and how it is seen from here. */
function chip(id: string, colour: string, role: string, seen: Seen): HTMLElement {
  const item = el('li', undefined, `chip ${role}`);
  item.dataset.node = id;
  item.dataset.role = role;
  item.dataset.reachability = seen;
  const swatch = el('span', undefined, 'swatch');
  swatch.style.background = colour;
  item.append(swatch, el('span', id, 'id'), el('span', ` ${role} · ${seen}`, 'meta'));
  return item;
}

/** Fallbacks shown after the replicas; the rest of a long preference list is summed up in one line. */
export const FALLBACKS_SHOWN = 5;

/** A preference list as chips: the first `n` are replicas, then up to {@link FALLBACKS_SHOWN} fallbacks. */
export function preferenceChips(list: readonly string[], n: number, colours: ReadonlyMap<string, string>, seen: (id: string) => Seen): HTMLOListElement {
  const ol = el('ol', undefined, 'chips');
  const shown = list.slice(0, n + FALLBACKS_SHOWN);
  shown.forEach((id, i) => ol.append(chip(id, colours.get(id) ?? 'gray', i < n ? `replica ${i + 1}` : 'fallback', seen(id))));
  const rest = list.slice(shown.length);
  if (rest.length > 0) {
    const more = el('li', `… ${rest.length} more fallback${rest.length === 1 ? '' : 's'} (${rest.filter((id) => seen(id) === 'alive').length} alive)`, 'more');
    more.dataset.key = 'more';
    ol.append(more);
  }
  return ol;
}

/** What the partition panel shows. */
export interface PartitionInfo {
  partition: number;
  partitionCount: number;
  preferenceList: readonly string[];
  n: number;
  /** Members receiving this partition now (handoff in progress), and those still handing it off. */
  receiving: string[];
  handingOff: string[];
  /** Keys this node stores in the partition; undefined when it holds none of it. */
  keysHere: number | undefined;
  /** This node's transfers of the partition (handoff, paper §4.9), to each receiver. */
  transfers: TransferView[];
  /** Anti-entropy state of the partition on this node, if it was compared. */
  sync: { inSync: boolean; lastPeer: string; lastComparedMs: number; keysRepaired: number } | undefined;
  self: string;
}

/** One transfer as `ownershipHandoffStatus()` reports it, the fields shown. */
export type TransferView = Pick<TransferState, 'peer' | 'reason' | 'keysSent' | 'keysTotal' | 'state' | 'attempts' | 'lastError'>;

/**
 * A transfer as one line: `→ b3k 120/512 keys, running · ownership`; after a failure `→ b3k 120/512
 * keys, waiting to retry (attempt 3; last: refused) · ownership`. Before the first attempt listed the
 * partition's keys: `keys not listed yet`.
 */
export function describeTransfer(t: TransferView): string {
  const keys = t.keysTotal === 0 && t.keysSent === 0 ? 'keys not listed yet' : `${t.keysSent}/${t.keysTotal} keys`;
  const state = t.lastError === undefined ? t.state : t.state === 'waiting' ? 'waiting to retry' : 'retrying';
  const failure = t.lastError === undefined ? '' : ` (attempt ${t.attempts}; last: ${t.lastError})`;
  return `→ ${t.peer} ${keys}, ${state}${failure} · ${t.reason}`;
}

/** When the partition was last compared with a peer, as the partition panel says it: "< 10 s ago", "2 min ago". */
export function comparedAgo(sync: { lastComparedMs: number }, nowMs: number): string {
  return `${formatAgeMs(nowMs - sync.lastComparedMs)} ago`;
}

export function renderPartition(box: HTMLElement, info: PartitionInfo | undefined, colours: ReadonlyMap<string, string>, seen: (id: string) => Seen, nowMs: number): void {
  if (info === undefined) {
    box.replaceChildren(el('p', 'Select a partition on the ring (click, or focus the ring and use the arrow keys).', 'hint'));
    return;
  }
  const { partition, partitionCount } = info;
  const start = (BigInt(partition) << 128n) / BigInt(partitionCount);
  const heading = el('h3', `Partition ${partition}`);
  const range = el('p', `MD5 range from 0x${start.toString(16).padStart(32, '0').slice(0, 8)}… (${((partition / partitionCount) * 360).toFixed(1)}°), 1/${partitionCount} of the ring`, 'muted');
  const replicas = info.preferenceList.slice(0, info.n);
  const holders = el('dl', undefined, 'facts-grid');
  const row = (term: string, value: string, key: string): void => {
    const dt = el('dt', term);
    const dd = el('dd', value);
    dd.dataset.field = key;
    holders.append(dt, dd);
  };
  row('Owner', info.preferenceList[0] ?? '—', 'owner');
  row('Replicas', replicas.join(', ') || '—', 'replicas');
  row('Receiving (handoff)', info.receiving.join(', ') || 'none', 'receiving');
  row('Handing off', info.handingOff.join(', ') || 'none', 'handing-off');
  row('Transfers from this node', info.transfers.map(describeTransfer).join('\n') || 'none', 'transfers');
  row('Keys on this node', info.keysHere === undefined ? (replicas.includes(info.self) ? '0' : 'not a replica here') : String(info.keysHere), 'keys');
  row(
    'Sync (anti-entropy)',
    info.sync === undefined
      ? 'not compared yet'
      : `${info.sync.inSync ? 'in sync' : 'differing'} with ${info.sync.lastPeer}, ${comparedAgo(info.sync, nowMs)}; ${info.sync.keysRepaired} keys repaired`,
    'sync',
  );
  box.replaceChildren(heading, range, el('h4', 'Preference list'), preferenceChips(info.preferenceList, info.n, colours, seen), holders);
}

/** What the key lookup shows. */
export interface KeyInfo {
  key: string;
  positionHex: string;
  partition: number;
  degrees: number;
  preferenceList: readonly string[];
  n: number;
}

export function renderKey(box: HTMLElement, info: KeyInfo | { error: string } | undefined, colours: ReadonlyMap<string, string>, seen: (id: string) => Seen): void {
  if (info === undefined) {
    box.replaceChildren();
    return;
  }
  if ('error' in info) {
    box.replaceChildren(el('p', info.error, 'error'));
    return;
  }
  const position = el('p');
  position.dataset.field = 'position';
  position.append('MD5 position ', el('code', `0x${info.positionHex}`), ` · partition ${info.partition} · ${info.degrees.toFixed(2)}°`);
  const reachable = info.preferenceList.slice(0, info.n).filter((id) => ['alive', 'this tab'].includes(seen(id))).length;
  const summary = el('p', `${reachable} of ${info.n} replicas reachable from here`, 'muted');
  summary.dataset.field = 'reachable';
  box.replaceChildren(position, preferenceChips(info.preferenceList, info.n, colours, seen), summary);
}

/** One row of the members table. */
export interface MemberRow {
  record: MemberRecord;
  seen: Seen;
  partitions: number;
  /** Q·capacity/total for members in the ring. */
  ideal: number;
  keys: number | undefined;
  hints: number | undefined;
  lastHeardMs: number | undefined;
  connected: boolean;
}

/** The status column: the member's own status, or how this node sees it when that is worse. */
export function memberStatus(row: MemberRow): string {
  if (row.record.status !== 'up') return row.record.status;
  if (row.seen === 'suspect' || row.seen === 'unreachable' || row.seen === 'cut off') return row.seen;
  return 'up';
}

interface MemberRowNodes {
  tr: HTMLTableRowElement;
  texts: Map<string, Text>;
  swatch: HTMLElement;
  fill: HTMLElement;
  tick: HTMLElement;
  bar: HTMLElement;
  actions: HTMLTableCellElement;
}

const MEMBER_COLUMNS = ['node', 'status', 'incarnation', 'capacity', 'partitions', 'keys', 'hints', 'last-heard'] as const;

/** The members table's columns. */
export type MemberColumn = (typeof MEMBER_COLUMNS)[number];

/** One row of the members table as it is drawn: text, colour and sizes only. */
export interface MemberRowView {
  id: string;
  /** The status column's word ({@link memberStatus}), also the row's `data-status`. */
  status: string;
  self: boolean;
  /** Every column's text but 'last-heard'. */
  texts: Record<Exclude<MemberColumn, 'last-heard'>, string>;
  /** The 'last-heard' column: "now", "—", "< 10 s ago · connected", "2 min ago" (it moves by itself). */
  lastHeard: string;
  colour: string;
  /** The load bar (partitions against the ideal share), widths in % of the bar; undefined for a member outside the ring. */
  bar: { fillPercent: number; tickPercent: number } | undefined;
  /** Offered for removal (an unreachable member that has not left). */
  removable: boolean;
}

/**
 * The members table's rows as they are drawn, from `rows` (this node's view of each member) at `nowMs`
 * (ms); `self` is this tab's node, `colours` a colour per node. Pure: the page keys its redraws on it.
 */
export function memberRowViews(rows: readonly MemberRow[], self: string, colours: ReadonlyMap<string, string>, nowMs: number): MemberRowView[] {
  const maxRatio = Math.max(1.5, ...rows.map((r) => (r.ideal > 0 ? r.partitions / r.ideal : 0)));
  return rows.map((r) => {
    const m = r.record;
    const status = memberStatus(r);
    return {
      id: m.id,
      status,
      self: m.id === self,
      texts: {
        node: m.id === self ? `${m.id} (this tab)` : m.id,
        status: status + [m.pendingPartitions.length > 0 ? ` · receiving ${m.pendingPartitions.length}` : '', m.handoffPartitions.length > 0 ? ` · handing off ${m.handoffPartitions.length}` : ''].join(''),
        incarnation: String(m.incarnation),
        capacity: String(m.capacity),
        partitions: r.ideal > 0 ? `${r.partitions} / ${r.ideal.toFixed(1)}` : String(r.partitions),
        keys: r.keys === undefined ? '—' : String(r.keys),
        hints: r.hints === undefined ? '—' : String(r.hints),
      },
      lastHeard: m.id === self ? 'now' : r.lastHeardMs === undefined ? '—' : `${formatAgeMs(nowMs - r.lastHeardMs)} ago${r.connected ? ' · connected' : ''}`,
      colour: colours.get(m.id) ?? 'transparent',
      bar: r.ideal > 0 ? { fillPercent: Math.min(100, ((r.partitions / r.ideal) * 100) / maxRatio), tickPercent: 100 / maxRatio } : undefined,
      removable: m.id !== self && m.status !== 'left' && r.seen === 'unreachable',
    };
  });
}

/**
 * The members table, updated in place: a row per member, kept across redraws (keyed by node id), whose
 * cells change only where their text changed. With 30 members, building the rows afresh at every
 * redraw cost far more than the few cells that change.
 */
export class MembersTable {
  private readonly rows = new Map<string, MemberRowNodes>();

  constructor(private readonly tbody: HTMLElement) {}

  /** Shows `views` (see {@link memberRowViews}), in their order. */
  update(views: readonly MemberRowView[]): void {
    const seen = new Set<string>();
    let previous: Element | null = null;
    for (const v of views) {
      seen.add(v.id);
      const nodes = this.rows.get(v.id) ?? this.createRow(v.id);
      if (nodes.tr.dataset.status !== v.status) nodes.tr.dataset.status = v.status;
      const className = v.self ? 'self' : '';
      if (nodes.tr.className !== className) nodes.tr.className = className;
      for (const column of MEMBER_COLUMNS) {
        const text = nodes.texts.get(column)!;
        const wanted = column === 'last-heard' ? v.lastHeard : v.texts[column];
        if (text.data !== wanted) text.data = wanted;
      }
      setStyle(nodes.swatch, 'background', v.colour);
      // Load at a glance: a bar of partitions against the ideal share (the tick).
      if (nodes.bar.hidden !== (v.bar === undefined)) nodes.bar.hidden = v.bar === undefined;
      if (v.bar !== undefined) {
        setStyle(nodes.fill, 'width', `${v.bar.fillPercent}%`);
        setStyle(nodes.tick, 'left', `${v.bar.tickPercent}%`);
      }
      const button = nodes.actions.firstElementChild as HTMLButtonElement | null;
      if (v.removable && !button) {
        const remove = el('button', 'Remove', 'secondary small');
        remove.type = 'button';
        remove.dataset.remove = v.id;
        remove.setAttribute('aria-label', `Remove ${v.id} from the ring for good`);
        nodes.actions.append(remove);
      } else if (!v.removable && button) button.remove();
      // Keep the table in the order given.
      previous = placeAfter(this.tbody, previous, nodes.tr);
    }
    for (const [id, nodes] of this.rows) {
      if (seen.has(id)) continue;
      nodes.tr.remove();
      this.rows.delete(id);
    }
  }

  private createRow(id: string): MemberRowNodes {
    const tr = el('tr');
    tr.dataset.node = id;
    const texts = new Map<string, Text>();
    const swatch = el('span', undefined, 'swatch');
    const bar = el('span', undefined, 'bar');
    bar.setAttribute('aria-hidden', 'true');
    const fill = el('span', undefined, 'fill');
    const tick = el('span', undefined, 'tick');
    bar.append(fill, tick);
    for (const column of MEMBER_COLUMNS) {
      const td = el('td');
      td.dataset.col = column;
      const text = document.createTextNode('');
      texts.set(column, text);
      if (column === 'node') td.append(swatch, text);
      else if (column === 'partitions') td.append(text, bar);
      else td.append(text);
      tr.append(td);
    }
    const actions = el('td');
    tr.append(actions);
    const nodes = { tr, texts, swatch, fill, tick, bar, actions };
    this.rows.set(id, nodes);
    return nodes;
  }
}

function setStyle(element: HTMLElement, property: 'background' | 'width' | 'left', value: string): void {
  if (element.style[property] !== value) element.style[property] = value;
}

/**
 * Counters of a panel (activity, signaling, handshakes), updated in place: one item per counter, kept
 * across redraws, whose value text is rewritten only when it changed (a rebuilt list made the page lay
 * out every item again).
 */
export class CountersView {
  private readonly values = new Map<string, Text>();

  constructor(private readonly list: HTMLElement) {}

  update(counters: readonly [string, number][]): void {
    for (const [name, value] of counters) {
      let text = this.values.get(name);
      if (text === undefined) {
        const item = el('li');
        item.dataset.counter = name;
        const valueBox = el('span', undefined, 'value');
        text = document.createTextNode('');
        valueBox.append(text);
        item.append(valueBox, el('span', name, 'name'));
        this.list.append(item);
        this.values.set(name, text);
      }
      const shown = String(value);
      if (text.data !== shown) text.data = shown;
    }
  }
}
