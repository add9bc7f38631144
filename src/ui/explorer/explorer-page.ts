/**
 * The ring explorer (route `#/`, index.html `#explorer-view`): this node's view of the cluster, its
 * panels wired to the node's events. Events only ask for a redraw (render-scheduler.ts); a redraw
 * plans the panels from one {@link NodeSnapshot}, each with a key summing up what it shows, and draws
 * those whose key changed, one panel per task:
 *
 * ```
 *   ┌ Ring ───────────────────────────────┐ ┌ Key lookup · put, get, delete ┐
 *   │ RingView + LegendView │ partition   │ │ KeyForm                        │
 *   └─────────────────────────────────────┘ └────────────────────────────────┘
 *   ┌ Nodes: MembersTable, RemovalsList ──┐ ┌ Activity: CountersView, LogView┐
 *   ┌ Connections: ConnectionsPanel, ICE status, HandshakeCounters ─────────┐
 * ```
 *
 * Built only on the public API (`DynamoNode`) and its events; every piece of data is rendered as text,
 * never as HTML. The panels themselves are files of their own in this folder.
 */
import type { DynamoEvent, DynamoNode, NodeConfig } from '../../index.js';
import { byId } from '../dom.js';
import type { NodeSnapshot } from '../node-snapshot.js';
import { documentVisibility, type PageVisibility } from '../page-visibility.js';
import type { RenderJob, RenderScheduler } from '../render-scheduler.js';
import type { RoutedView } from '../router.js';
import { LegendView, LogView } from '../views.js';
import { ActivityLog } from './activity-log.js';
import { ConnectionsPanel } from './connections-panel.js';
import { EventDescriber } from './event-describer.js';
import { KeyForm } from './key-form.js';
import { HandshakeCounters, RemovalsList } from './members-only-views.js';
import { comparedAgo, CountersView, memberRowViews, MembersTable, renderPartition, type MemberRow } from './panels.js';
import { PatchedPanel, setText } from './patch.js';
import { RingView } from './ring-view.js';
import { formatRemovalTime, removalLines } from './security-model.js';
import { connectionsView, describeIceStatus, describeNetworkPath, type NetworkPathView } from './signaling-model.js';

/** Lines the activity log keeps. */
const LOG_LINES = 40;
/**
 * How often the network paths (getStats on every connection, asynchronous) are read while the explorer
 * is on screen, ms; they are also read at once when the open connections change.
 */
const NETWORK_PATHS_PERIOD_MS = 10_000;
/** Keys per partition (from the Merkle trees) are read at most this often, ms. */
const KEY_COUNTS_PERIOD_MS = 2000;
/** Events after which the keys per partition may have changed (they are read again if a partition is shown). */
const KEY_COUNT_EVENTS: ReadonlySet<DynamoEvent['type']> = new Set(['key-changed', 'ownership-handoff', 'partition-received', 'anti-entropy', 'ring']);
/** Activity counters that move by themselves in an idle cluster: drawn as live parts (render-scheduler.ts). */
const LIVE_COUNTERS: ReadonlySet<string> = new Set(['gossip rounds', 'anti-entropy rounds']);

/** What the explorer needs from the rest of the page. */
export interface ExplorerPageDeps {
  /** Redraws: asked for on every event, and at once on the user's own selection. */
  redraws: Pick<RenderScheduler, 'request' | 'redrawNow'>;
  /** Runs a membership change and shows its outcome in the header (the Remove buttons use it). */
  membershipAction: (label: string, action: () => Promise<void>) => void;
  /** Whether the page is on screen (the browser's by default). */
  visibility?: PageVisibility;
}

/** The ring explorer of one tab's node (see the module comment). */
export class ExplorerPage implements RoutedView {
  private readonly view = byId('explorer-view');
  private readonly config: NodeConfig;
  private readonly log = new ActivityLog(LOG_LINES);
  private readonly describer = new EventDescriber();
  private readonly membersTable = new MembersTable(byId('members').querySelector('tbody')!);
  private readonly logView = new LogView(byId('log'));
  private readonly countersView = new CountersView(byId('counters'));
  private readonly legendView = new LegendView(byId('legend'));
  private readonly partitionDetails = new PatchedPanel(byId('partition-details'));
  private readonly partitionInput = byId<HTMLInputElement>('partition-input');
  private readonly ringView: RingView;
  private readonly keyForm: KeyForm;
  private readonly connectionsPanel: ConnectionsPanel;
  private readonly handshakeCounters = new HandshakeCounters(byId('connections-title').closest('section')!);
  private readonly removalsList = new RemovalsList(byId('members-title').closest('section')!);
  private readonly visibility: PageVisibility;
  private selectedPartition: number | undefined;
  /** Keys per partition on this node (from its Merkle trees), and when they were last asked for (ms). */
  private keyCounts: Record<number, number> = {};
  private keyCountsAtMs = 0;
  /** True when keys may have changed since {@link keyCounts} was read; a read is under way or waits for its period. */
  private keyCountsStale = true;
  private keyCountsBusy = false;
  /** The network paths last read: their kinds (a change is news) and their round trips (they move by themselves). */
  private networkPaths = { kinds: '', roundTrips: '' };
  /** The nodes with an open connection when the network paths were last read ('\n'-joined). */
  private networkPathsOf = '';
  private networkPathsBusy = false;

  /** Builds the panels and wires them to `node`'s events and to the user's input. */
  constructor(
    private readonly node: DynamoNode,
    private readonly deps: ExplorerPageDeps,
  ) {
    this.config = node.config();
    this.visibility = deps.visibility ?? documentVisibility();
    this.ringView = new RingView(byId('ring') as unknown as SVGSVGElement, (partition) => this.selectPartition(partition));
    this.connectionsPanel = new ConnectionsPanel({
      summary: byId('connections-summary'),
      connections: byId<HTMLTableSectionElement>('connections').querySelector('tbody')!,
      empty: byId('connections-empty'),
      paths: byId<HTMLTableSectionElement>('signaling-paths').querySelector('tbody')!,
      counters: byId('signaling-counters'),
      drops: byId('relay-drops'),
      sameBrowser: byId('same-browser'),
    });
    const partitionInput = this.partitionInput;
    partitionInput.max = String(this.config.partitionCount - 1);
    partitionInput.addEventListener('input', () => {
      const value = Number(partitionInput.value);
      if (partitionInput.value !== '' && Number.isInteger(value) && value >= 0 && value < this.config.partitionCount) this.selectPartition(value);
    });
    setInterval(() => this.refreshNetworkPaths(), NETWORK_PATHS_PERIOD_MS);
    this.visibility.onChange(() => this.refreshNetworkPaths());
    node.on('*', (event: DynamoEvent) => {
      if (KEY_COUNT_EVENTS.has(event.type)) this.keyCountsStale = true;
      const text = this.describer.describe(event);
      if (text) this.note(text, this.describer.mergeKind(event));
      else if (!this.routine(event)) deps.redraws.request();
    });
    byId('members').addEventListener('click', (event) => {
      const target = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-remove]');
      const id = target?.dataset.remove;
      if (!id) return;
      if (!confirm(`Remove ${id} from the ring for good? Its partitions are re-created from the other replicas.`)) return;
      deps.membershipAction(`removing ${id}`, () => node.remove(id));
    });
    if (node.adopted) this.note(`this tab took over the closed tab's node ${node.id} and its data`);
    this.keyForm = new KeyForm(node, this.ringView);
  }

  /** Whether the explorer is on screen (its panels are drawn only then). */
  get shown(): boolean {
    return !this.view.hidden;
  }

  /** Shows or hides the explorer (the router calls it; `path` is unused). */
  show(active: boolean): void {
    if (this.view.hidden !== !active) this.view.hidden = !active;
    if (active) this.refreshNetworkPaths();
  }

  /**
   * The panels as parts of a redraw, planned from `snapshot` (none while the explorer is not shown):
   * each with a key that sums up what it shows and a draw that shows it (render-scheduler.ts).
   */
  panelJobs(snapshot: NodeSnapshot): RenderJob[] {
    if (!this.shown) return [];
    return [this.ringJob(snapshot), this.partitionJob(snapshot), this.keyForm.job(snapshot.colours, snapshot.seen), this.membersJob(snapshot), this.connectionsJob(snapshot), this.activityJob()];
  }

  /**
   * Whether `event` is one of those an idle cluster sends all the time and that change nothing on the
   * page by themselves: a gossip round that brought nothing new, a partition compared that is not the
   * one shown. What they move (round counters, ages) is live, drawn by the scheduler's own rounds
   * (render-scheduler.ts, LIVE_PERIOD_MS).
   */
  private routine(event: DynamoEvent): boolean {
    if (event.type === 'gossip') return !event.changed;
    if (event.type === 'partition-sync') return event.partition !== this.selectedPartition;
    return false;
  }

  /** Logs a line; lines of one `kind` within a second share one (see ActivityLog), `kind` undefined never. */
  private note(text: string, kind?: string): void {
    this.log.add(kind, text, Date.now());
    this.deps.redraws.request();
  }

  /** Selects a partition (from the ring or the number input) and redraws at once. */
  private selectPartition(partition: number | undefined): void {
    if (partition !== this.selectedPartition) this.keyCountsStale = true;
    this.selectedPartition = partition;
    this.ringView.select(partition);
    if (partition !== undefined && document.activeElement !== this.partitionInput) this.partitionInput.value = String(partition);
    this.deps.redraws.redrawNow();
  }

  /**
   * Reads the network paths while the explorer is on screen (every {@link NETWORK_PATHS_PERIOD_MS}, and
   * when the open connections changed); a reading that differs from the last asks for a redraw.
   */
  private refreshNetworkPaths(): void {
    if (this.visibility.hidden || !this.shown || this.networkPathsBusy) return;
    this.networkPathsBusy = true;
    this.networkPathsOf = openNodes(this.node.connections());
    void this.node
      .connectionPaths()
      .then((paths) => {
        const read = networkPathsKey(paths);
        if (read.kinds === this.networkPaths.kinds && read.roundTrips === this.networkPaths.roundTrips) return;
        this.networkPaths = read;
        this.connectionsPanel.setNetworkPaths(paths);
        this.deps.redraws.request();
      })
      // getStats failed (a connection closing meanwhile): the paths shown stay until the next reading.
      .catch(() => undefined)
      .finally(() => {
        this.networkPathsBusy = false;
      });
  }

  /**
   * Asks the Merkle worker for the keys per partition when a partition is shown and keys may have
   * changed since the last reading (at most every {@link KEY_COUNTS_PERIOD_MS}); the answer redraws.
   * Nothing while no partition is selected: only the partition panel shows them.
   */
  private refreshKeyCounts(): void {
    if (this.selectedPartition === undefined || !this.keyCountsStale || this.keyCountsBusy) return;
    const waitMs = this.keyCountsAtMs + KEY_COUNTS_PERIOD_MS - Date.now();
    this.keyCountsBusy = true;
    const read = (): void => {
      this.keyCountsStale = false;
      this.keyCountsAtMs = Date.now();
      void this.node
        .merkleTrees()
        .then((trees) => {
          this.keyCounts = trees.keyCounts;
          this.deps.redraws.request();
        })
        .catch(() => undefined)
        .finally(() => {
          this.keyCountsBusy = false;
        });
    };
    if (waitMs > 0) setTimeout(read, waitMs);
    else read();
  }

  /** The ring and its legend: owners and colours. */
  private ringJob({ ring, colours }: NodeSnapshot): RenderJob {
    const { node } = this;
    const owners = ring.members.length > 0 ? ring.owners().join(',') : '';
    return {
      what: 'ring',
      key: `${ring.partitionCount}|${ring.members.map((m) => m.id).join(',')}|${owners}|${[...colours].join(',')}`,
      draw: () => {
        this.ringView.update(ring, node.id, colours);
        this.legendView.update(ring, node.id, colours);
      },
    };
  }

  /** The selected partition: its preference list, ownership handoff, keys here, anti-entropy state. */
  private partitionJob({ ring, members, colours, seen, nowMs }: NodeSnapshot): RenderJob {
    const { node } = this;
    if (this.selectedPartition === undefined || ring.members.length === 0) {
      return { what: 'partition', key: 'none', draw: () => this.partitionDetails.patchIfChanged('none', (box) => renderPartition(box, undefined, colours, seen, nowMs)) };
    }
    this.refreshKeyCounts();
    const p = this.selectedPartition;
    const sync = node.syncStates().find((st) => st.partition === p);
    const info = {
      partition: p,
      partitionCount: ring.partitionCount,
      preferenceList: ring.preferenceListForPartition(p),
      n: this.config.n,
      receiving: members.filter((m) => m.pendingPartitions.includes(p)).map((m) => m.id),
      handingOff: members.filter((m) => m.handoffPartitions.includes(p)).map((m) => m.id),
      transfers: node.ownershipHandoffStatus().transfers.filter((t) => t.partition === p),
      keysHere: this.keyCounts[p],
      sync: sync === undefined ? undefined : { inSync: sync.inSync, lastPeer: sync.lastPeer, lastComparedMs: sync.lastComparedMs, keysRepaired: sync.keysRepaired },
      self: node.id,
    };
    // The time of the last comparison is in the live key, as the panel words it ("< 10 s ago").
    const key = JSON.stringify([{ ...info, sync: sync === undefined ? undefined : { ...info.sync, lastComparedMs: 0 } }, info.preferenceList.map(seen), info.preferenceList.map((id) => colours.get(id))]);
    const liveKey = sync === undefined ? '' : comparedAgo(sync, nowMs);
    return { what: 'partition', key, liveKey, draw: () => this.partitionDetails.patchIfChanged(`${key}|${liveKey}`, (box) => renderPartition(box, info, colours, seen, nowMs)) };
  }

  /** The Nodes panel: every member with its share of the ring and load, the removals, the balance. */
  private membersJob({ ring, members, colours, seen, nowMs }: NodeSnapshot): RenderJob {
    const { node } = this;
    const inRing = members.filter((m) => (m.history.at(-1)?.capacity ?? 0) > 0);
    const totalCapacity = inRing.reduce((sum, m) => sum + m.capacity, 0);
    const loads = node.memberLoads();
    const health = new Map(node.peerHealth().map((h) => [h.id, h] as const));
    const connectedPeers = node.stats().connectedPeers;
    const rows: MemberRow[] = members.map((m) => ({
      record: m,
      seen: seen(m.id),
      partitions: ring.members.some((r) => r.id === m.id) ? ring.partitionsOf(m.id).length : 0,
      ideal: inRing.includes(m) && totalCapacity > 0 ? (ring.partitionCount * m.capacity) / totalCapacity : 0,
      keys: loads.get(m.id)?.keys,
      hints: loads.get(m.id)?.hints,
      lastHeardMs: health.get(m.id)?.lastHeardMs,
      connected: connectedPeers.includes(m.id),
    }));
    const views = memberRowViews(rows, node.id, colours, nowMs);
    const removals = removalLines(node.removals(), node.id, (atMs) => formatRemovalTime(atMs, nowMs));
    const worst = Math.max(0, ...rows.filter((r) => r.ideal > 0).map((r) => Math.abs(r.partitions - r.ideal) / r.ideal));
    const balance = `${inRing.length} node${inRing.length === 1 ? '' : 's'} in the ring; largest deviation from the ideal share: ${(worst * 100).toFixed(1)}%`;
    return {
      what: 'members',
      key: JSON.stringify([views.map((v) => ({ ...v, lastHeard: '' })), removals, balance]),
      liveKey: views.map((v) => v.lastHeard).join('\n'),
      draw: () => {
        this.membersTable.update(views);
        this.removalsList.update(removals);
        setText(byId('balance'), balance);
      },
    };
  }

  /** The Connections panel: the connections, signaling paths and counters, ICE servers, handshakes. */
  private connectionsJob({ colours, nowMs }: NodeSnapshot): RenderJob {
    const { node } = this;
    const links = node.connections();
    // A connection opened or closed: read the network paths again (its path is news).
    if (openNodes(links) !== this.networkPathsOf) this.refreshNetworkPaths();
    const view = connectionsView(node.signalingStatus(), links, nowMs);
    const ice = describeIceStatus(node.iceStatus(), (ms) => new Date(ms).toLocaleTimeString());
    const security = node.securityStats();
    const shownColours = [...new Set([...view.rows.map((r) => r.node), ...view.sameBrowser.map((t) => t.node)])].map((id) => colours.get(id));
    return {
      what: 'connections',
      key: JSON.stringify([{ ...view, rows: view.rows.map((r) => ({ ...r, age: '', idle: '' })) }, shownColours, this.networkPaths.kinds, ice, security]),
      liveKey: `${view.rows.map((r) => `${r.age} ${r.idle}`).join('\n')}|${this.networkPaths.roundTrips}`,
      draw: () => {
        this.connectionsPanel.update(view, colours);
        setText(byId('ice-status'), ice);
        this.handshakeCounters.update(security);
      },
    };
  }

  /** The Activity panel: the node's counters since it started, and the log. */
  private activityJob(): RenderJob {
    const stats = this.node.stats();
    const counters: [string, number][] = [
      ['gossip rounds', stats.gossipRounds],
      ['puts coordinated', stats.putsCoordinated],
      ['gets coordinated', stats.getsCoordinated],
      ['forwarded', stats.requestsForwarded],
      ['read repairs', stats.readRepairs],
      ['hints stored', stats.hintsStored],
      ['hints delivered', stats.hintsDelivered],
      ['hints passed on', stats.hintsPassed],
      ['anti-entropy rounds', stats.antiEntropyRounds],
      ['anti-entropy repairs', stats.antiEntropyRepairs],
      ['handoff transfers', stats.ownershipHandoffTransfers],
      ['messages dropped', stats.messagesDropped],
    ];
    return {
      what: 'activity',
      key: `${counters.filter(([name]) => !LIVE_COUNTERS.has(name)).join(';')}|${this.log.version}`,
      liveKey: counters.filter(([name]) => LIVE_COUNTERS.has(name)).join(';'),
      draw: () => {
        this.countersView.update(counters);
        this.logView.update(this.log.entries);
      },
    };
  }
}

/** The nodes `links` has an open connection to, sorted and '\n'-joined. */
function openNodes(links: readonly { node: string; state: string }[]): string {
  return [...new Set(links.filter((l) => l.state === 'open').map((l) => l.node))].sort().join('\n');
}

/** The network paths as two strings: their kinds without round trips, and with them. */
function networkPathsKey(paths: readonly NetworkPathView[]): { kinds: string; roundTrips: string } {
  const sorted = [...paths].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return {
    kinds: sorted.map((p) => `${p.node} ${describeNetworkPath({ ...p, rttMs: undefined })}`).join('\n'),
    roundTrips: sorted.map((p) => `${p.node} ${describeNetworkPath(p)}`).join('\n'),
  };
}
