/**
 * The page's header, above both views (index.html `header.top`): this tab's node and what it is doing.
 *
 * ```
 *   tabdynamo  [Ring explorer] [Notes]
 *   ● Signaling server: reachable                       SignalingIndicator (+ first-contact notice)
 *   This browser started a new cluster …  [Dismiss]     NewClusterNotice
 *   Node … Cluster … N/R/W … Partitions … Hints held … Handoff … Status …
 *   [Open another node tab] [Invite] [Disconnect] [Leave the ring] Capacity [ ] [Set capacity]
 *   membership result ("leaving the ring: done")
 * ```
 *
 * It owns the header's controls (connection, membership, capacity) and the membership result line,
 * which the explorer's Remove buttons use too ({@link NodeHeader.membershipAction}). Built on the
 * public API only; every value is written as text. It is the first part of every redraw
 * ({@link NodeHeader.job}), drawn only when what it shows changed.
 */
import type { DynamoEvent, DynamoNode } from '../index.js';
import { byId } from './dom.js';
import { InviteDialog } from './explorer/invite-dialog.js';
import { NewClusterNotice } from './explorer/members-only-views.js';
import { setText } from './explorer/patch.js';
import { SignalingIndicator } from './explorer/signaling-indicator.js';
import { describeServer, firstContactNotice, openPeerCount, type ServerIndicator } from './explorer/signaling-model.js';
import type { NodeSnapshot } from './node-snapshot.js';
import type { RenderJob, RenderScheduler } from './render-scheduler.js';

/** How often the header redraws while the signaling server's retry countdown runs, ms. */
const COUNTDOWN_TICK_MS = 1000;
/** Events after which the number of hints held may have changed (it is read again from the store). */
const HINT_EVENTS: ReadonlySet<DynamoEvent['type']> = new Set(['hint-stored', 'hints-delivered', 'hints-passed', 'hints-expired', 'membership', 'removal', 'membership-change', 'connectivity']);

/** What the header shows, as {@link NodeHeader.job} plans it (its JSON is the part's key). */
interface HeaderView {
  server: ServerIndicator;
  /** The first-contact notice, or undefined when there is none. */
  notice: string | undefined;
  /** Hints held, as last read from the store. */
  hints: string;
  connected: boolean;
  otherMembers: number;
  /** "idle", or what the node is receiving and handing off. */
  handoff: string;
  membershipButton: string;
  leaving: boolean;
  /** This node's capacity (undefined before it knows its own record). */
  capacity: string | undefined;
  /** True when the capacity field shows another number and is not being edited: the draw puts it back. */
  capacityEdited: boolean;
  capacityEnabled: boolean;
  /** The status line ("joined, 4 other nodes", "alone — …"). */
  status: string;
}

/** The header of one tab's page (see the module comment). */
export class NodeHeader {
  private readonly status = byId('status');
  private readonly hints = byId('hints');
  private readonly handoff = byId('handoff');
  private readonly toggleConnection = byId<HTMLButtonElement>('toggle-connection');
  private readonly toggleMembership = byId<HTMLButtonElement>('toggle-membership');
  private readonly capacityForm = byId<HTMLFormElement>('capacity-form');
  private readonly capacityInput = byId<HTMLInputElement>('capacity');
  private readonly membershipResult = byId('membership-result');
  private readonly newClusterNotice: NewClusterNotice;
  private readonly signalingIndicator: SignalingIndicator;
  /** Hints held, as last read from the store ('' before the first reading), and whether it may have changed since. */
  private hintCount = this.hints.textContent ?? '';
  private hintCountStale = true;
  private hintCountBusy = false;

  /**
   * Fills in what does not change (node id, cluster, quorum, partitions) and wires the controls.
   * `redraws` is asked for a redraw whenever a control changed something.
   */
  constructor(
    private readonly node: DynamoNode,
    private readonly cluster: string,
    private readonly redraws: Pick<RenderScheduler, 'request' | 'requestIn'>,
  ) {
    const config = node.config();
    byId('node-id').textContent = node.adopted ? `${node.id} (a closed tab's node, taken over with its data)` : node.id;
    byId('cluster').textContent = cluster;
    byId('quorum').textContent = `${config.n} / ${config.r} / ${config.w}`;
    byId('partitions').textContent = String(config.partitionCount);
    byId<HTMLAnchorElement>('open-tab').href = location.pathname + location.search;
    new InviteDialog(byId('open-tab'), cluster, () => node.invitation());
    this.newClusterNotice = new NewClusterNotice(byId('first-contact'));
    this.signalingIndicator = new SignalingIndicator(byId('signaling-indicator'), byId('first-contact'));

    this.toggleConnection.addEventListener('click', () => {
      if (node.connected) node.disconnect();
      else node.reconnect();
    });
    this.toggleMembership.addEventListener('click', () => {
      const self = node.members().find((m) => m.id === node.id);
      if (self?.status === 'up') this.membershipAction('leaving the ring', () => node.leave());
      else this.membershipAction('joining the ring', () => node.join());
    });
    this.capacityForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const capacity = Number(this.capacityInput.value);
      this.membershipAction(`capacity ${capacity}`, () => node.setCapacity(capacity));
    });
    // Left without being submitted, the capacity field shows the node's capacity again (at the next redraw).
    this.capacityInput.addEventListener('blur', () => this.redraws.request());
    node.on('*', (event: DynamoEvent) => {
      if (HINT_EVENTS.has(event.type)) this.hintCountStale = true;
    });
  }

  /**
   * Runs a membership change (leave, join, capacity, removal; §4.8.1, §4.9) and shows its progress and
   * outcome in the membership result line: `label…`, then `label: done` or the error's name and message.
   */
  membershipAction(label: string, action: () => Promise<void>): void {
    const result = this.membershipResult;
    result.dataset.state = 'busy';
    result.textContent = `${label}…`;
    this.redraws.request();
    action().then(
      () => {
        result.dataset.state = 'ok';
        result.textContent = `${label}: done`;
        this.redraws.request();
      },
      (error: unknown) => {
        result.dataset.state = 'error';
        result.textContent = `${label}: ${(error as Error).name}: ${(error as Error).message}`;
        this.redraws.request();
      },
    );
  }

  /**
   * The header as a part of a redraw (render-scheduler.ts), planned from `snapshot` and the node's
   * signaling and handoff state: its key is everything it shows, as text.
   */
  job(snapshot: NodeSnapshot): RenderJob {
    const { node } = this;
    const { members, nowMs } = snapshot;
    const signaling = node.signalingStatus();
    const server = describeServer(signaling, openPeerCount(node.connections()), nowMs);
    const notice = firstContactNotice(signaling);
    // A retry countdown ticks by itself, also when nothing else happens (a node alone, the server down).
    if (server.state === 'unreachable' || server.state === 'id-taken') this.redraws.requestIn(COUNTDOWN_TICK_MS);
    this.refreshHintCount();
    const self = members.find((m) => m.id === node.id);
    const handoff = node.ownershipHandoffStatus();
    const peers = members.filter((m) => m.status !== 'left').length - 1;
    const shown: HeaderView = {
      server,
      notice,
      hints: this.hintCount,
      connected: node.connected,
      otherMembers: members.filter((m) => m.id !== node.id).length,
      handoff:
        handoff.pendingPartitions.length + handoff.handoffPartitions.length === 0
          ? 'idle'
          : `receiving ${handoff.pendingPartitions.length}, handing off ${handoff.handoffPartitions.length} partitions (${handoff.transfers.length} transfers)`,
      membershipButton: self?.status === 'up' ? 'Leave the ring' : self?.status === 'leaving' ? 'Leaving…' : 'Join the ring again',
      leaving: self?.status === 'leaving',
      capacity: self === undefined ? undefined : String(self.capacity),
      // The field shows something else while it is not being edited (typed into, then left): it is put back.
      capacityEdited: document.activeElement !== this.capacityInput && self !== undefined && this.capacityInput.value !== String(self.capacity),
      // Capacity is a share of the ring: only a node in the ring has one to change.
      capacityEnabled: self?.status === 'up',
      status:
        self?.status === 'left'
          ? 'left the ring — this tab holds no data; it still reads and writes through the others'
          : self?.status === 'leaving'
            ? 'leaving — handing its partitions to their new owners'
            : !node.connected
              ? 'disconnected — writes with w = 1 are kept here and sync on reconnect'
              : peers === 0
                ? notice !== undefined
                  ? 'waiting for a first contact'
                  : 'alone — open another tab to add a node'
                : `joined, ${peers} other node${peers === 1 ? '' : 's'}`,
    };
    return { what: 'header', key: JSON.stringify(shown), draw: () => this.draw(shown) };
  }

  /** Writes what {@link job} planned into the header's elements (only where it differs). */
  private draw(shown: HeaderView): void {
    this.signalingIndicator.show(shown.server, shown.notice);
    setText(this.hints, shown.hints);
    const toggle = this.toggleConnection;
    setText(toggle, shown.connected ? 'Disconnect this node' : 'Reconnect this node');
    if (toggle.getAttribute('aria-pressed') !== String(!shown.connected)) toggle.setAttribute('aria-pressed', String(!shown.connected));
    this.newClusterNotice.update(this.node.secretSource, this.cluster, shown.otherMembers);
    setText(this.handoff, shown.handoff);
    const membershipButton = this.toggleMembership;
    setText(membershipButton, shown.membershipButton);
    if (membershipButton.disabled !== shown.leaving) membershipButton.disabled = shown.leaving;
    const capacityInput = this.capacityInput;
    if (document.activeElement !== capacityInput && shown.capacity !== undefined && capacityInput.value !== shown.capacity) capacityInput.value = shown.capacity;
    for (const control of this.capacityForm.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')) if (control.disabled !== !shown.capacityEnabled) control.disabled = !shown.capacityEnabled;
    setText(this.status, shown.status);
    const state = shown.connected ? 'joined' : 'offline';
    if (this.status.dataset.state !== state) this.status.dataset.state = state;
  }

  /** Reads the number of hints held from the store when it may have changed (one reading at a time); a new number redraws. */
  private refreshHintCount(): void {
    if (!this.hintCountStale || this.hintCountBusy) return;
    this.hintCountStale = false;
    this.hintCountBusy = true;
    void this.node
      .hintCount()
      .then((n) => {
        if (String(n) === this.hintCount) return;
        this.hintCount = String(n);
        this.redraws.request();
      })
      .catch(() => {
        this.hintCountStale = true;
      })
      .finally(() => {
        this.hintCountBusy = false;
      });
  }
}
