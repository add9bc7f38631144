/**
 * The ring explorer (route `#/`, index.html `#explorer-view`): this node's view of the cluster, its
 * panels wired to the node's events. Events only ask for a redraw (render-scheduler.ts); a redraw
 * draws the panels from one {@link NodeSnapshot}, one panel per task:
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
import type { RenderJob, RenderScheduler } from '../render-scheduler.js';
import type { RoutedView } from '../router.js';
import { LegendView, LogView } from '../views.js';
import { ActivityLog } from './activity-log.js';
import { ConnectionsPanel } from './connections-panel.js';
import { EventDescriber } from './event-describer.js';
import { KeyForm } from './key-form.js';
import { HandshakeCounters, RemovalsList } from './members-only-views.js';
import { CountersView, MembersTable, renderPartition, type MemberRow } from './panels.js';
import { PatchedPanel, setText } from './patch.js';
import { RingView } from './ring-view.js';
import { formatRemovalTime, removalLines } from './security-model.js';
import { describeIceStatus, describeNetworkPath } from './signaling-model.js';

/** Lines the activity log keeps. */
const LOG_LINES = 40;
/** How often the network paths (getStats, asynchronous) are read while the explorer is shown, ms. */
const NETWORK_PATHS_PERIOD_MS = 2000;
/** Keys per partition (from the Merkle trees) are read at most this often, ms. */
const KEY_COUNTS_PERIOD_MS = 2000;

/** What the explorer needs from the rest of the page. */
export interface ExplorerPageDeps {
  /** Redraws: asked for on every event, and at once on the user's own selection. */
  redraws: Pick<RenderScheduler, 'request' | 'redrawNow'>;
  /** Runs a membership change and shows its outcome in the header (the Remove buttons use it). */
  membershipAction: (label: string, action: () => Promise<void>) => void;
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
  private selectedPartition: number | undefined;
  /** Keys per partition on this node (from its Merkle trees), and when they were last asked for (ms). */
  private keyCounts: Record<number, number> = {};
  private keyCountsAtMs = 0;
  /** The network paths last shown (to redraw only on a change). */
  private shownPaths = '';

  /** Builds the panels and wires them to `node`'s events and to the user's input. */
  constructor(
    private readonly node: DynamoNode,
    private readonly deps: ExplorerPageDeps,
  ) {
    this.config = node.config();
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
    node.on('*', (event: DynamoEvent) => {
      const text = this.describer.describe(event);
      if (text) this.note(text, this.describer.mergeKind(event));
      else deps.redraws.request();
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
    this.view.hidden = !active;
  }

  /** The jobs that redraw the panels from `snapshot`, one panel each (none while the explorer is hidden). */
  panelJobs(snapshot: NodeSnapshot): RenderJob[] {
    if (!this.shown) return [];
    const { node } = this;
    const { ring, colours, seen } = snapshot;
    return [
      ['ring', () => {
        this.refreshKeyCounts();
        this.ringView.update(ring, node.id, colours);
        this.legendView.update(ring, node.id, colours);
      }],
      ['partition', () => this.drawPartition(snapshot)],
      ['key', () => this.keyForm.refresh(colours, seen)],
      ['members', () => this.drawMembers(snapshot)],
      ['connections', () => {
        this.connectionsPanel.update(node.signalingStatus(), node.connections(), colours, Date.now());
        setText(byId('ice-status'), describeIceStatus(node.iceStatus(), (ms) => new Date(ms).toLocaleTimeString()));
        this.handshakeCounters.update(node.securityStats());
      }],
      ['activity', () => this.drawActivity()],
    ];
  }

  /** Logs a line; lines of one `kind` within a second share one (see ActivityLog), `kind` undefined never. */
  private note(text: string, kind?: string): void {
    this.log.add(kind, text, Date.now());
    this.deps.redraws.request();
  }

  /** Selects a partition (from the ring or the number input) and redraws at once. */
  private selectPartition(partition: number | undefined): void {
    this.selectedPartition = partition;
    this.ringView.select(partition);
    if (partition !== undefined && document.activeElement !== this.partitionInput) this.partitionInput.value = String(partition);
    this.deps.redraws.redrawNow();
  }

  /** Reads the network paths while the explorer is shown in a visible tab; a change redraws. */
  private refreshNetworkPaths(): void {
    if (document.visibilityState !== 'visible' || !this.shown) return;
    void this.node.connectionPaths().then((paths) => {
      const shown = paths.map((p) => `${p.node} ${describeNetworkPath(p)}`).sort().join('\n');
      if (shown === this.shownPaths) return;
      this.shownPaths = shown;
      this.connectionsPanel.setNetworkPaths(paths);
      this.deps.redraws.request();
    });
  }

  /** Asks the Merkle worker for the keys per partition, at most every {@link KEY_COUNTS_PERIOD_MS}. */
  private refreshKeyCounts(): void {
    if (Date.now() - this.keyCountsAtMs < KEY_COUNTS_PERIOD_MS) return;
    this.keyCountsAtMs = Date.now();
    void this.node.merkleTrees().then((trees) => {
      this.keyCounts = trees.keyCounts;
    });
  }

  /** The selected partition: its preference list, ownership handoff, keys here, anti-entropy state. */
  private drawPartition({ ring, members, colours, seen, nowMs }: NodeSnapshot): void {
    const { node } = this;
    if (this.selectedPartition !== undefined && ring.members.length > 0) {
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
        sync,
        self: node.id,
      };
      const age = sync === undefined ? '' : String(Math.round((nowMs - sync.lastComparedMs) / 1000));
      this.partitionDetails.patchIfChanged(JSON.stringify([info, info.preferenceList.map(seen), age, [...colours]]), (box) => renderPartition(box, info, colours, seen, nowMs));
    } else {
      this.partitionDetails.patchIfChanged('none', (box) => renderPartition(box, undefined, colours, seen, nowMs));
    }
  }

  /** The Nodes panel: every member with its share of the ring and load, the removals, the balance. */
  private drawMembers({ ring, members, colours, seen, nowMs }: NodeSnapshot): void {
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
    this.membersTable.update(rows, node.id, colours, nowMs);
    this.removalsList.update(removalLines(node.removals(), node.id, (atMs) => formatRemovalTime(atMs, nowMs)));
    const worst = Math.max(0, ...rows.filter((r) => r.ideal > 0).map((r) => Math.abs(r.partitions - r.ideal) / r.ideal));
    setText(byId('balance'), `${inRing.length} node${inRing.length === 1 ? '' : 's'} in the ring; largest deviation from the ideal share: ${(worst * 100).toFixed(1)}%`);
  }

  /** The Activity panel: the node's counters since it started, and the log. */
  private drawActivity(): void {
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
    this.countersView.update(counters);
    this.logView.update(this.log.entries);
  }
}
