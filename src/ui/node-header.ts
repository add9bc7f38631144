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
 * public API only; every value is written as text.
 */
import type { DynamoNode } from '../index.js';
import { byId } from './dom.js';
import { InviteDialog } from './explorer/invite-dialog.js';
import { NewClusterNotice } from './explorer/members-only-views.js';
import { setText } from './explorer/patch.js';
import { SignalingIndicator } from './explorer/signaling-indicator.js';
import { firstContactNotice, openPeerCount } from './explorer/signaling-model.js';
import type { NodeSnapshot } from './node-snapshot.js';
import type { RenderScheduler } from './render-scheduler.js';

/** How often the header redraws while the signaling server's retry countdown runs, ms. */
const COUNTDOWN_TICK_MS = 1000;

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

  /** Redraws the header from `snapshot` (and from the node's signaling and handoff state). */
  update(snapshot: NodeSnapshot): void {
    const { node } = this;
    const { members, nowMs } = snapshot;
    const signaling = node.signalingStatus();
    const server = this.signalingIndicator.update(signaling, openPeerCount(node.connections()), nowMs);
    // A retry countdown ticks by itself, also when nothing else happens (a node alone, the server down).
    if (server.state === 'unreachable' || server.state === 'id-taken') this.redraws.requestIn(COUNTDOWN_TICK_MS);
    void node.hintCount().then((n) => setText(this.hints, String(n)));
    const toggle = this.toggleConnection;
    setText(toggle, node.connected ? 'Disconnect this node' : 'Reconnect this node');
    if (toggle.getAttribute('aria-pressed') !== String(!node.connected)) toggle.setAttribute('aria-pressed', String(!node.connected));
    const self = members.find((m) => m.id === node.id);
    this.newClusterNotice.update(node.secretSource, this.cluster, members.filter((m) => m.id !== node.id).length);
    const handoff = node.ownershipHandoffStatus();
    setText(
      this.handoff,
      handoff.pendingPartitions.length + handoff.handoffPartitions.length === 0
        ? 'idle'
        : `receiving ${handoff.pendingPartitions.length}, handing off ${handoff.handoffPartitions.length} partitions (${handoff.transfers.length} transfers)`,
    );
    const membershipButton = this.toggleMembership;
    setText(membershipButton, self?.status === 'up' ? 'Leave the ring' : self?.status === 'leaving' ? 'Leaving…' : 'Join the ring again');
    if (membershipButton.disabled !== (self?.status === 'leaving')) membershipButton.disabled = self?.status === 'leaving';
    const capacityInput = this.capacityInput;
    if (document.activeElement !== capacityInput && self && capacityInput.value !== String(self.capacity)) capacityInput.value = String(self.capacity);
    // Capacity is a share of the ring: only a node in the ring has one to change.
    for (const control of this.capacityForm.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')) if (control.disabled !== (self?.status !== 'up')) control.disabled = self?.status !== 'up';
    const peers = members.filter((m) => m.status !== 'left').length - 1;
    setText(this.status, self?.status === 'left'
      ? 'left the ring — this tab holds no data; it still reads and writes through the others'
      : self?.status === 'leaving'
        ? 'leaving — handing its partitions to their new owners'
        : !node.connected
          ? 'disconnected — writes with w = 1 are kept here and sync on reconnect'
          : peers === 0
            ? firstContactNotice(signaling) !== undefined
              ? 'waiting for a first contact'
              : 'alone — open another tab to add a node'
            : `joined, ${peers} other node${peers === 1 ? '' : 's'}`);
    const state = node.connected ? 'joined' : 'offline';
    if (this.status.dataset.state !== state) this.status.dataset.state = state;
  }
}
