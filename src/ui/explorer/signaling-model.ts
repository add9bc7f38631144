/**
 * What the explorer says about signaling and connections, without the DOM: the signaling server
 * indicator of the header, the first-contact notice, and the rows and counters of the Connections
 * panel. Plain data in (`signalingStatus()`, `connections()` of the public API), plain text out, so the
 * wording is unit-tested and the panels only place it (DESIGN.md §3 "Signaling paths").
 *
 *   signalingStatus() ──► describeServer()        "Signaling server: unreachable — retrying in 12 s (attempt 4)"
 *                    └──► firstContactNotice()    shown while the node has met no one and the server is down
 *                    └──► pathRows(), signalingCounters()
 *   connections()    ──► connectionRows()         one row per data-channel connection
 */
import type { DynamoNode, ServerStatus, SetupPath, SignalingPath, SignalingStatus } from '../../index.js';

/** One connection as `connections()` reports it. */
export type ConnectionView = ReturnType<DynamoNode['connections']>[number];

/** The header's signaling indicator. */
export interface ServerIndicator {
  /** The server's state (`none`: this node has no server configured); styles the indicator. */
  state: ServerStatus['state'] | 'none';
  /** The state in a few words, after "Signaling server: ". */
  headline: string;
  /** What it means for this node now, a sentence; empty when there is nothing to add. */
  detail: string;
}

/** Seconds until `atMs`, rounded up, never below 0. */
function secondsUntil(atMs: number | undefined, nowMs: number): number | undefined {
  return atMs === undefined ? undefined : Math.max(0, Math.ceil((atMs - nowMs) / 1000));
}

/** "retrying in 12 s (attempt 4)": the next try is attempt `failures + 1`. */
function retrying(server: ServerStatus, nowMs: number): string {
  const seconds = secondsUntil(server.nextRetryAtMs, nowMs);
  const when = seconds === undefined ? 'retrying' : seconds === 0 ? 'retrying now' : `retrying in ${seconds} s`;
  return `${when} (attempt ${server.failures + 1})`;
}

/**
 * The signaling server's state as the header shows it. `openPeers` is the number of nodes this node has
 * an open connection to: while the server is down, those keep the cluster working, and new connections
 * are set up through them (relayed offers) or between tabs of this browser.
 */
export function describeServer(status: SignalingStatus, openPeers: number, nowMs: number): ServerIndicator {
  const server = status.server;
  if (server.state === 'none') return { state: 'none', headline: 'none configured', detail: 'Connections are set up through the cluster and between tabs of this browser only.' };
  if (server.state === 'open') return { state: 'open', headline: 'reachable', detail: '' };
  const headline =
    server.state === 'connecting'
      ? server.failures === 0
        ? 'connecting…'
        : `connecting… (attempt ${server.failures + 1})`
      : server.state === 'id-taken'
        ? `id still held by an older tab — ${retrying(server, nowMs)}`
        : `unreachable — ${retrying(server, nowMs)}`;
  // Right after start the server is still connecting: nothing to say about the cluster yet.
  if (server.state === 'connecting' && server.failures === 0) return { state: server.state, headline, detail: '' };
  const detail =
    openPeers > 0
      ? `The cluster still works through its members (${openPeers} connected): new connections are set up through the cluster.`
      : status.waitingForFirstContact
        ? 'No other node known yet.'
        : 'No member connected yet: connections are set up with tabs of this browser, or through the server once it is back.';
  return { state: server.state, headline, detail };
}

/**
 * The first-contact notice: shown while the node knows no other member, has no connection, and the
 * server is not open (with the server open, a node alone is simply alone). Undefined: no notice.
 */
export function firstContactNotice(status: SignalingStatus): string | undefined {
  if (!status.waitingForFirstContact || status.server.state === 'open') return undefined;
  return 'This node is waiting for a first contact: the signaling server, or another tab of this cluster in this browser. Meanwhile its stored data is served from this tab.';
}

/** How a connection was set up, in words: "server", "relay via k3x", "relay", "same browser", or "—" while not signalled yet. */
export function describeSetup(setup: SetupPath | undefined): string {
  if (setup === undefined) return '—';
  if (setup.path === 'same-browser') return 'same browser';
  if (setup.path === 'relay') return setup.via === undefined ? 'relay' : `relay via ${setup.via}`;
  return 'server';
}

/**
 * An age as the explorer shows it: "< 10 s", "20 s" … "50 s" (tens of seconds), "4 min", "2 h 5 min".
 * Coarse on purpose: the ages of members and connections move by themselves in an idle cluster, and a
 * page showing every second would be redrawn every second for nothing (issue 19: idle is nearly
 * free); the render scheduler draws such changes at most every 10 s (render-scheduler.ts).
 */
export function formatAgeMs(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 10) return '< 10 s';
  if (s < 60) return `${Math.floor(s / 10) * 10} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** One row of the connections table, as text. */
export interface ConnectionRow {
  /** Stable across redraws for the same connection: node, direction and, for a second one alike, its rank. */
  key: string;
  node: string;
  direction: 'out' | 'in';
  /** The link's state, with what is special about it: "open", "opening · 3 queued", "open · superseded", "waiting for a setup slot". */
  state: string;
  /** The raw state, for styling. */
  stateKind: ConnectionView['state'];
  /** The path of its setup, when known. */
  path: SignalingPath | undefined;
  setup: string;
  /** How long it has existed, and since it last carried a message ({@link formatAgeMs}). */
  age: string;
  idle: string;
}

/**
 * The connections table's rows, sorted by node id, outbound first, then oldest first (a node can have
 * two: both ends connected at once, or a draining one and its successor).
 */
export function connectionRows(links: readonly ConnectionView[]): ConnectionRow[] {
  const sorted = [...links].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || Number(b.outbound) - Number(a.outbound) || b.ageMs - a.ageMs);
  const ranks = new Map<string, number>();
  return sorted.map((link) => {
    const direction = link.outbound ? 'out' : 'in';
    const base = `${link.node} ${direction}`;
    const rank = ranks.get(base) ?? 0;
    ranks.set(base, rank + 1);
    const notes = [link.superseded ? 'superseded' : '', link.queuedFrames > 0 ? `${link.queuedFrames} queued` : ''].filter((n) => n !== '');
    const state = link.state === 'waiting' ? 'waiting for a setup slot' : link.state;
    return {
      key: rank === 0 ? base : `${base} ${rank}`,
      node: link.node,
      direction,
      state: [state, ...notes].join(' · '),
      stateKind: link.state,
      path: link.setup?.path,
      setup: describeSetup(link.setup),
      age: formatAgeMs(link.ageMs),
      idle: formatAgeMs(link.idleMs),
    };
  });
}

/** What the Connections panel shows, as text and numbers (the panel only places it). */
export interface ConnectionsView {
  rows: ConnectionRow[];
  /** "4 connections, 3 open; signaling server reachable". */
  summary: string;
  paths: PathRow[];
  counters: [string, number][];
  /** The relay drops by reason ({@link relayDropsByReason}), as a sentence. */
  drops: string;
  /** The tabs of this cluster in this browser, sorted, each with whether this node has an open connection to it. */
  sameBrowser: { node: string; connected: boolean }[];
}

/** The Connections panel of a node whose signaling state is `status` and connections `links`, at `nowMs` (ms). */
export function connectionsView(status: SignalingStatus, links: readonly ConnectionView[], nowMs: number): ConnectionsView {
  const rows = connectionRows(links);
  const open = rows.filter((r) => r.stateKind === 'open').length;
  const connected = new Set(links.filter((l) => l.state === 'open').map((l) => l.node));
  return {
    rows,
    summary: `${rows.length} connection${rows.length === 1 ? '' : 's'}, ${open} open; signaling server ${describeServer(status, 0, nowMs).headline}`,
    paths: pathRows(status),
    counters: signalingCounters(status),
    drops: `Relay drops: ${relayDropsByReason(status)}.`,
    sameBrowser: [...status.sameBrowserNodes].sort().map((node) => ({ node, connected: connected.has(node) })),
  };
}

/** Nodes with an open connection (one node counts once however many links it has). */
export function openPeerCount(links: readonly ConnectionView[]): number {
  return new Set(links.filter((l) => l.state === 'open').map((l) => l.node)).size;
}

/** The paths, in the order the router tries them, with their names in the panel. */
export const PATH_LABELS: readonly (readonly [SignalingPath, string])[] = [
  ['same-browser', 'same browser'],
  ['relay', 'relay'],
  ['server', 'server'],
];

/** One row of the per-path table: setups (in all and in the last minute) and offers sent and received. */
export interface PathRow {
  path: SignalingPath;
  label: string;
  setups: number;
  setupsLastMinute: number;
  offersSent: number;
  offersReceived: number;
}

export function pathRows(status: SignalingStatus): PathRow[] {
  return PATH_LABELS.map(([path, label]) => ({
    path,
    label,
    setups: status.setups[path],
    setupsLastMinute: status.setupsLastMinute[path],
    offersSent: status.offersSent[path],
    offersReceived: status.offersReceived[path],
  }));
}

/** The panel's other counters, `[name, value]`: relayed signals, drops, offers with no path or no answer. */
export function signalingCounters(status: SignalingStatus): [string, number][] {
  const dropped = status.relay.dropped;
  return [
    ['relayed for others', status.relay.forwarded],
    ['relay drops', dropped.malformed + dropped.duplicate + dropped['hop-limit'] + dropped['no-route'] + dropped.loop],
    ['signals with no path', status.noPath],
    ['answer timeouts', status.answerTimeouts],
    ['malformed signals', status.malformed],
  ];
}

/** The relay drops by reason, for the counter's tooltip: "duplicate 3, hop limit 1" (only reasons that happened). */
export function relayDropsByReason(status: SignalingStatus): string {
  const entries = Object.entries(status.relay.dropped).filter(([, n]) => n > 0);
  return entries.length === 0 ? 'no relayed signal dropped' : entries.map(([reason, n]) => `${reason.replace('-', ' ')} ${n}`).join(', ');
}

/** A connection's network path as the explorer shows it (issue 17). */
export interface NetworkPathView {
  node: string;
  localType: string;
  remoteType: string;
  protocol: string;
  relayProtocol?: string;
  rttMs?: number;
}

/**
 * One line for a connection's selected ICE candidate pair: how it travels, the two candidate types,
 * the protocol and the round-trip time, e.g. "relayed (TURN): relay ↔ srflx, udp, 12 ms".
 * `host`: a local address; `srflx`/`prflx`: an address a NAT mapped (found by STUN, or learned from
 * the other end); `relay`: through a TURN server.
 */
export function describeNetworkPath(path: NetworkPathView): string {
  const types = [path.localType, path.remoteType];
  const kind = types.includes('relay') ? 'relayed (TURN)' : types.some((t) => t === 'srflx' || t === 'prflx') ? 'through NAT (STUN)' : 'direct';
  const protocol = path.relayProtocol !== undefined ? `${path.protocol} via ${path.relayProtocol}` : path.protocol;
  // Whole milliseconds: finer figures would change at every reading and redraw the panel for nothing.
  const rtt = path.rttMs !== undefined ? `, ${path.rttMs < 1 ? '<1' : Math.round(path.rttMs)} ms` : '';
  return `${kind}: ${path.localType} ↔ ${path.remoteType}, ${protocol}${rtt}`;
}

/** What the explorer says of the STUN/TURN servers new connections use. */
export function describeIceStatus(status: { urls: string[]; source: string; expiresAtMs?: number }, formatTime: (ms: number) => string): string {
  if (status.urls.length === 0) return 'STUN/TURN servers: none — connections are direct only (one machine or one network).';
  const turn = status.urls.filter((u) => u.startsWith('turn')).length;
  const stun = status.urls.length - turn;
  const from = status.source === 'fetched' ? "from the app's server" : status.source === 'stored' ? "this browser's copy (the server is not reached yet)" : 'given to the node';
  const servers = [stun > 0 ? `${stun} STUN` : '', turn > 0 ? `${turn} TURN` : ''].filter((s) => s !== '').join(' and ');
  const expiry = status.expiresAtMs !== undefined ? `; TURN credentials until ${formatTime(status.expiresAtMs)}` : '';
  return `STUN/TURN servers: ${servers}, ${from}${expiry}.`;
}
