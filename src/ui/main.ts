/**
 * The page: hosts this tab's node and shows its view of the cluster (a plain first view of the ring,
 * members and activity) with a small put/get/delete form. Built only on the public API
 * (`DynamoNode`) and its events; every piece of data is rendered as text, never as HTML.
 *
 * URL parameters: cluster, n, r, w, q, capacity (see README). An invitation link adds the cluster
 * secret as the fragment (`#invite=…`): the node takes it, and the page then removes it from the
 * address bar. The node is exposed as `window.dynamo` once it has started (the console API).
 *
 * Size: about 620 lines — URL config, console API, router, render scheduler and the explorer page in
 * one file; issue 18 splits them. Panels and dialogs are files of their own under explorer/.
 */
import { DynamoNode, InvalidOptionError, keyPosition, peerClientOptions, type DynamoEvent, type GetResult } from '../index.js';
import { RingView } from './explorer/ring-view.js';
import { CountersView, MembersTable, renderKey, renderPartition, type KeyInfo, type MemberRow } from './explorer/panels.js';
import { LegendView, LogView, nodeColours, renderSiblings } from './views.js';
import { ActivityLog } from './explorer/activity-log.js';
import { patchIfChanged, setText } from './explorer/patch.js';
import { ConnectionsPanel } from './explorer/connections-panel.js';
import { SignalingIndicator } from './explorer/signaling-indicator.js';
import { describeIceStatus, describeNetworkPath, firstContactNotice, openPeerCount } from './explorer/signaling-model.js';
import { NotesService } from './notes/notes-service.js';
import { NotesView } from './notes/notes-view.js';
import { startAppUpdates } from './app-update.js';
import { InviteDialog } from './explorer/invite-dialog.js';
import { HandshakeCounters, NewClusterNotice, RemovalsList } from './explorer/members-only-views.js';
import { formatRemovalTime, removalLines, withoutInvitation } from './explorer/security-model.js';
import './style.css';

/** The console API: the node's public methods, bound, plus its id. */
export interface ConsoleApi {
  id: string;
  cluster: string;
  node: DynamoNode;
  put: DynamoNode['put'];
  get: DynamoNode['get'];
  delete: DynamoNode['delete'];
  members: DynamoNode['members'];
  preferenceList: DynamoNode['preferenceList'];
  ring: DynamoNode['ring'];
  stats: DynamoNode['stats'];
  config: DynamoNode['config'];
  localKeys: DynamoNode['localKeys'];
  on: DynamoNode['on'];
  join: DynamoNode['join'];
  leave: DynamoNode['leave'];
  remove: DynamoNode['remove'];
  setCapacity: DynamoNode['setCapacity'];
  ownershipHandoffStatus: DynamoNode['ownershipHandoffStatus'];
  /** Signaling server state, tabs of this browser, setups per path (same browser, relay, server). */
  signalingStatus: DynamoNode['signalingStatus'];
  /** This node's connections, each with how it was set up. */
  connections: DynamoNode['connections'];
  /** The link that lets another browser join this cluster (it carries the cluster secret): `node.invitation()`. */
  invitation: () => string;
  /** Removal statements known: who removed whom, when. */
  removals: DynamoNode['removals'];
  /** Handshakes accepted and refused (by reason), records and removals rejected. */
  securityStats: DynamoNode['securityStats'];
}

declare global {
  interface Window {
    dynamo?: ConsoleApi;
    dynamoError?: { name: string; message: string };
    /** The notes page's service (for tests and the console). */
    dynamoNotes?: NotesService;
    /** The explorer's redraws: how many there were, and the tasks they ran as (the last 9,000–10,000: start, performance.now() ms; duration, ms; which part). */
    explorerRenders?: { count: number; recent: { atMs: number; ms: number; what: string }[] };
  }
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element as T;
};

function intParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new InvalidOptionError(`URL parameter ${name} must be a number, got "${raw}"`);
  return value;
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const cluster = params.get('cluster') ?? 'default';
  const status = $('status');
  status.textContent = 'joining…';
  const node = await DynamoNode.start({
    cluster,
    ...optional('n', intParam(params, 'n')),
    ...optional('r', intParam(params, 'r')),
    ...optional('w', intParam(params, 'w')),
    ...optional('q', intParam(params, 'q')),
    ...optional('capacity', intParam(params, 'capacity')),
    ...optional('maxConnections', intParam(params, 'maxConnections')),
    // hints=off turns hinted handoff off (strict quorum), e.g. to watch anti-entropy repair on its own.
    ...(params.get('hints') === 'off' ? { config: { hintedHandoff: false } } : {}),
    // A new tab takes over a closed tab's node (and its data) unless adopt=off.
    adoptClosedNodes: params.get('adopt') !== 'off',
    signaling: peerClientOptions(location),
    // An invitation link's fragment carries the cluster secret; without one the browser's own is used (or made).
    invitation: location.hash,
  });
  // The node has the secret now (and stored it for this browser's other tabs): keep it off the
  // address bar, out of bookmarks and of the history entry.
  const cleaned = withoutInvitation(location.href);
  if (cleaned !== undefined) history.replaceState(history.state, '', cleaned);
  const config = node.config();
  $('node-id').textContent = node.adopted ? `${node.id} (a closed tab's node, taken over with its data)` : node.id;
  $('cluster').textContent = cluster;
  $('quorum').textContent = `${config.n} / ${config.r} / ${config.w}`;
  $('partitions').textContent = String(config.partitionCount);
  $<HTMLAnchorElement>('open-tab').href = location.pathname + location.search;
  new InviteDialog($('open-tab'), cluster, () => node.invitation());
  const newClusterNotice = new NewClusterNotice($('first-contact'));

  const log = new ActivityLog(40);
  const contexts = new Map<string, string>();
  let selectedPartition: number | undefined;
  const membersTable = new MembersTable($('members').querySelector('tbody')!);
  const logView = new LogView($('log'));
  const countersView = new CountersView($('counters'));
  const legendView = new LegendView($('legend'));
  const ringView = new RingView($('ring') as unknown as SVGSVGElement, (partition) => selectPartition(partition));
  const signalingIndicator = new SignalingIndicator($('signaling-indicator'), $('first-contact'));
  const connectionsPanel = new ConnectionsPanel({
    summary: $('connections-summary'),
    connections: $<HTMLTableSectionElement>('connections').querySelector('tbody')!,
    empty: $('connections-empty'),
    paths: $<HTMLTableSectionElement>('signaling-paths').querySelector('tbody')!,
    counters: $('signaling-counters'),
    drops: $('relay-drops'),
    sameBrowser: $('same-browser'),
  });
  const handshakeCounters = new HandshakeCounters($('connections-title').closest('section')!);
  const removalsList = new RemovalsList($('members-title').closest('section')!);
  const partitionInput = $<HTMLInputElement>('partition-input');
  partitionInput.max = String(config.partitionCount - 1);
  const selectPartition = (partition: number | undefined): void => {
    selectedPartition = partition;
    ringView.select(partition);
    if (partition !== undefined && document.activeElement !== partitionInput) partitionInput.value = String(partition);
    renderNow();
  };
  partitionInput.addEventListener('input', () => {
    const value = Number(partitionInput.value);
    if (partitionInput.value !== '' && Number.isInteger(value) && value >= 0 && value < config.partitionCount) selectPartition(value);
  });

  /** How this node sees `id` right now. */
  const seenFrom = (): ((id: string) => string) => {
    const health = new Map(node.peerHealth().map((h) => [h.id, h.status] as const));
    return (id) => (id === node.id ? 'this tab' : !node.connected ? 'cut off' : (health.get(id) ?? 'unknown'));
  };
  /** Keys per partition on this node (from its Merkle trees), refreshed at most every 2 s. */
  let keyCounts: Record<number, number> = {};
  let keyCountsAtMs = 0;
  const refreshKeyCounts = (): void => {
    if (Date.now() - keyCountsAtMs < 2000) return;
    keyCountsAtMs = Date.now();
    void node.merkleTrees().then((trees) => {
      keyCounts = trees.keyCounts;
    });
  };

  // Updates are batched: events only mark the view dirty; it is redrawn at most every 250 ms, in an
  // animation frame (many tabs gossiping must not turn into many redraws).
  let renderQueued = false;
  let countdownQueued = false;
  let lastRenderMs = 0;
  /** Main-thread time the last redraw took, all its tasks together, ms. */
  let lastRedrawCostMs = 0;
  let redrawCostMs = 0;
  const render = (): void => {
    if (renderQueued) return;
    renderQueued = true;
    // Under load (a redraw that cost more), redraws space out: the explorer takes at most about a tenth
    // of the main thread, at most 4 redraws a second, at least one every 2 s.
    const periodMs = Math.min(2000, Math.max(250, 10 * lastRedrawCostMs));
    const waitMs = Math.max(0, periodMs - (Date.now() - lastRenderMs));
    setTimeout(() => requestAnimationFrame(renderNow), waitMs);
  };
  // Network paths (getStats, asynchronous) are read every 2 s while the explorer is shown; a change redraws.
  let shownPaths = '';
  setInterval(() => {
    if (document.visibilityState !== 'visible' || $('explorer-view').hidden) return;
    void node.connectionPaths().then((paths) => {
      const shown = paths.map((p) => `${p.node} ${describeNetworkPath(p)}`).sort().join('\n');
      if (shown === shownPaths) return;
      shownPaths = shown;
      connectionsPanel.setNetworkPaths(paths);
      render();
    });
  }, 2000);
  // A redraw runs as several short tasks (the header, then one panel after another, yielding to the
  // event loop whenever a slice passed 8 ms), so that input and the node's own messages are never held
  // up behind a whole redraw.
  const renders = { count: 0, recent: [] as { atMs: number; ms: number; what: string }[] };
  window.explorerRenders = renders;
  const timed = (what: string, work: () => void): void => {
    const startedMs = performance.now();
    try {
      work();
    } finally {
      redrawCostMs += performance.now() - startedMs;
      renders.recent.push({ atMs: startedMs, ms: performance.now() - startedMs, what });
      if (renders.recent.length > 10_000) renders.recent.splice(0, 1000);
    }
  };
  const runSliced = (jobs: [string, () => void][]): void => {
    const step = (): void => {
      const sliceStartedMs = performance.now();
      while (jobs.length > 0) {
        const [what, job] = jobs.shift()!;
        timed(what, job);
        if (jobs.length === 0) lastRedrawCostMs = redrawCostMs;
        if (jobs.length > 0 && performance.now() - sliceStartedMs > 8) {
          setTimeout(step, 0);
          return;
        }
      }
    };
    setTimeout(step, 0);
  };
  const renderNow = (): void => {
    renders.count++;
    redrawCostMs = 0;
    timed('header', draw);
    if ($('explorer-view').hidden) lastRedrawCostMs = redrawCostMs;
  };
  /** The explorer's panels (skipped while the notes page is shown). */
  const panelJobs = (ring: ReturnType<DynamoNode['ring']>, members: ReturnType<DynamoNode['members']>, colours: ReadonlyMap<string, string>, seen: (id: string) => string, nowMs: number): [string, () => void][] => [
    ['ring', () => {
      refreshKeyCounts();
      ringView.update(ring, node.id, colours);
      legendView.update(ring, node.id, colours);
    }],
    ['partition', () => drawPartition(ring, members, colours, seen, nowMs)],
    ['key', () => refreshKey(colours, seen)],
    ['members', () => drawMembers(ring, members, colours, seen, nowMs)],
    ['connections', () => {
      connectionsPanel.update(node.signalingStatus(), node.connections(), colours, Date.now());
      setText($('ice-status'), describeIceStatus(node.iceStatus(), (ms) => new Date(ms).toLocaleTimeString()));
      handshakeCounters.update(node.securityStats());
    }],
    ['activity', () => {
      const stats = node.stats();
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
      countersView.update(counters);
      logView.update(log.entries);
    }],
  ];
  const drawPartition = (ring: ReturnType<DynamoNode['ring']>, members: ReturnType<DynamoNode['members']>, colours: ReadonlyMap<string, string>, seen: (id: string) => string, nowMs: number): void => {
    if (selectedPartition !== undefined && ring.members.length > 0) {
      const p = selectedPartition;
      const sync = node.syncStates().find((st) => st.partition === p);
      const info = {
        partition: p,
        partitionCount: ring.partitionCount,
        preferenceList: ring.preferenceListForPartition(p),
        n: config.n,
        receiving: members.filter((m) => m.pending.includes(p)).map((m) => m.id),
        handingOff: members.filter((m) => m.handoffs.includes(p)).map((m) => m.id),
        transfers: node.ownershipHandoffStatus().transfers.filter((t) => t.partition === p),
        keysHere: keyCounts[p],
        sync,
        self: node.id,
      };
      const age = sync === undefined ? '' : String(Math.round((nowMs - sync.lastComparedMs) / 1000));
      patchIfChanged($('partition-details'), JSON.stringify([info, info.preferenceList.map(seen), age, [...colours]]), (box) => renderPartition(box, info, colours, seen, nowMs));
    } else {
      patchIfChanged($('partition-details'), 'none', (box) => renderPartition(box, undefined, colours, seen, nowMs));
    }
  };
  const drawMembers = (ring: ReturnType<DynamoNode['ring']>, members: ReturnType<DynamoNode['members']>, colours: ReadonlyMap<string, string>, seen: (id: string) => string, nowMs: number): void => {
    const inRing = members.filter((m) => (m.history.at(-1)?.capacity ?? 0) > 0);
    const totalCapacity = inRing.reduce((sum, m) => sum + m.capacity, 0);
    const loads = node.memberLoads();
    const health = new Map(node.peerHealth().map((h) => [h.id, h] as const));
    const linked = node.stats().connectedPeers;
    const rows: MemberRow[] = members.map((m) => ({
      record: m,
      seen: seen(m.id),
      partitions: ring.members.some((r) => r.id === m.id) ? ring.partitionsOf(m.id).length : 0,
      ideal: inRing.includes(m) && totalCapacity > 0 ? (ring.partitionCount * m.capacity) / totalCapacity : 0,
      keys: loads.get(m.id)?.keys,
      hints: loads.get(m.id)?.hints,
      lastHeardMs: health.get(m.id)?.lastHeardMs,
      linked: linked.includes(m.id),
    }));
    membersTable.update(rows, node.id, colours, nowMs);
    removalsList.update(removalLines(node.removals(), node.id, (atMs) => formatRemovalTime(atMs, nowMs)));
    const worst = Math.max(0, ...rows.filter((r) => r.ideal > 0).map((r) => Math.abs(r.partitions - r.ideal) / r.ideal));
    setText($('balance'), `${inRing.length} node${inRing.length === 1 ? '' : 's'} in the ring; largest deviation from the ideal share: ${(worst * 100).toFixed(1)}%`);
  };
  const draw = (): void => {
    renderQueued = false;
    lastRenderMs = Date.now();
    const ring = node.ring();
    const members = node.members();
    const colours = nodeColours(members);
    const seen = seenFrom();
    const nowMs = Date.now();
    const signaling = node.signalingStatus();
    const server = signalingIndicator.update(signaling, openPeerCount(node.connections()), nowMs);
    // A retry countdown ticks by itself, also when nothing else happens (a node alone, the server down).
    if ((server.state === 'unreachable' || server.state === 'id-taken') && !countdownQueued) {
      countdownQueued = true;
      setTimeout(() => {
        countdownQueued = false;
        render();
      }, 1000);
    }
    void node.hintCount().then((n) => setText($('hints'), String(n)));
    const toggle = $<HTMLButtonElement>('toggle-connection');
    setText(toggle, node.connected ? 'Disconnect this node' : 'Reconnect this node');
    if (toggle.getAttribute('aria-pressed') !== String(!node.connected)) toggle.setAttribute('aria-pressed', String(!node.connected));
    if (!$('explorer-view').hidden) runSliced(panelJobs(ring, members, colours, seen, nowMs));
    const self = members.find((m) => m.id === node.id);
    newClusterNotice.update(node.secretSource, cluster, members.filter((m) => m.id !== node.id).length);
    const handoff = node.ownershipHandoffStatus();
    setText(
      $('handoff'),
      handoff.pendingPartitions.length + handoff.handoffPartitions.length === 0
        ? 'idle'
        : `receiving ${handoff.pendingPartitions.length}, handing off ${handoff.handoffPartitions.length} partitions (${handoff.transfers.length} transfers)`,
    );
    const membershipButton = $<HTMLButtonElement>('toggle-membership');
    setText(membershipButton, self?.status === 'up' ? 'Leave the ring' : self?.status === 'leaving' ? 'Leaving…' : 'Join the ring again');
    if (membershipButton.disabled !== (self?.status === 'leaving')) membershipButton.disabled = self?.status === 'leaving';
    const capacityInput = $<HTMLInputElement>('capacity');
    if (document.activeElement !== capacityInput && self && capacityInput.value !== String(self.capacity)) capacityInput.value = String(self.capacity);
    // Capacity is a share of the ring: only a node in the ring has one to change.
    for (const control of $('capacity-form').querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')) if (control.disabled !== (self?.status !== 'up')) control.disabled = self?.status !== 'up';
    const peers = members.filter((m) => m.status !== 'left').length - 1;
    setText(status, self?.status === 'left'
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
    if (status.dataset.state !== state) status.dataset.state = state;
  };
  /** Logs a line; lines of one `kind` within a second share one (see ActivityLog), `kind` undefined never. */
  const note = (text: string, kind?: string): void => {
    log.add(kind, text, Date.now());
    render();
  };
  node.on('*', (event: DynamoEvent) => {
    const text = describeEvent(event);
    // Membership changes, removals, errors, going offline and the signaling server's changes are rare and each matters: never merged.
    if (text) note(text, ['membership-change', 'removal', 'error', 'connectivity', 'signaling'].includes(event.type) ? undefined : event.type);
    else render();
  });
  $<HTMLButtonElement>('toggle-connection').addEventListener('click', () => {
    if (node.connected) node.disconnect();
    else node.reconnect();
  });
  // ── membership: leave / join again, capacity, removal of a dead node ──
  const membershipResult = $('membership-result');
  const membershipAction = (label: string, action: () => Promise<void>): void => {
    membershipResult.dataset.state = 'busy';
    membershipResult.textContent = `${label}…`;
    render();
    action().then(
      () => {
        membershipResult.dataset.state = 'ok';
        membershipResult.textContent = `${label}: done`;
        render();
      },
      (error: unknown) => {
        membershipResult.dataset.state = 'error';
        membershipResult.textContent = `${label}: ${(error as Error).name}: ${(error as Error).message}`;
        render();
      },
    );
  };
  $<HTMLButtonElement>('toggle-membership').addEventListener('click', () => {
    const self = node.members().find((m) => m.id === node.id);
    if (self?.status === 'up') membershipAction('leaving the ring', () => node.leave());
    else membershipAction('joining the ring', () => node.join());
  });
  $<HTMLFormElement>('capacity-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const capacity = Number($<HTMLInputElement>('capacity').value);
    membershipAction(`capacity ${capacity}`, () => node.setCapacity(capacity));
  });
  $('members').addEventListener('click', (event) => {
    const target = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-remove]');
    const id = target?.dataset.remove;
    if (!id) return;
    if (!confirm(`Remove ${id} from the ring for good? Its partitions are re-created from the other replicas.`)) return;
    membershipAction(`removing ${id}`, () => node.remove(id));
  });
  if (node.adopted) note(`this tab took over the closed tab's node ${node.id} and its data`);

  // ── the form ──
  const keyInput = $<HTMLInputElement>('key');
  const valueInput = $<HTMLTextAreaElement>('value');
  const result = $('kv-result');
  /** The key lookup: the typed key's MD5 position, partition and preference list, with reachability. */
  const refreshKey = (colours: ReadonlyMap<string, string> = nodeColours(node.members()), seen = seenFrom()): void => {
    const key = keyInput.value;
    if (key === '') {
      patchIfChanged($('key-lookup'), 'none', (box) => renderKey(box, undefined, colours, seen));
      ringView.showKey(undefined);
      return;
    }
    try {
      const ring = node.ring();
      const list = node.preferenceList(key);
      const position = keyPosition(key);
      const partition = ring.partitionOfKey(key);
      const info: KeyInfo = {
        key,
        positionHex: position.toString(16).padStart(32, '0'),
        partition,
        degrees: (Number(position) / 2 ** 128) * 360,
        preferenceList: list,
        n: config.n,
      };
      patchIfChanged($('key-lookup'), JSON.stringify([info, list.map(seen), [...colours]]), (box) => renderKey(box, info, colours, seen));
      // The replicas' partitions: walking clockwise from the key's partition, the first partition of each replica met.
      const replicaPartitions: number[] = [];
      const met = new Set<string>();
      const owners = ring.owners();
      for (let step = 0; step < ring.partitionCount && met.size < Math.min(config.n, list.length); step++) {
        const p = (partition + step) % ring.partitionCount;
        const owner = owners[p];
        if (owner !== undefined && !met.has(owner)) {
          met.add(owner);
          replicaPartitions.push(p);
        }
      }
      ringView.showKey({ position, partition, replicaPartitions });
    } catch (error) {
      patchIfChanged($('key-lookup'), `error:${(error as Error).message}`, (box) => renderKey(box, { error: (error as Error).message }, colours, seen));
      ringView.showKey(undefined);
    }
  };
  keyInput.addEventListener('input', () => refreshKey());
  $<HTMLFormElement>('kv-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const op = ((event as SubmitEvent).submitter as HTMLButtonElement | null)?.dataset.op ?? 'get';
    const key = keyInput.value;
    void (async () => {
      result.dataset.state = 'busy';
      result.textContent = `${op}…`;
      try {
        if (op === 'get') {
          const got: GetResult = await node.get(key);
          contexts.set(key, got.context);
          renderSiblings($('siblings'), got.siblings);
          $('clock').textContent = got.clock.length === 0 ? '' : `vector clock: ${got.clock.map((e) => `${e.node}:${e.counter}`).join(', ')}`;
          result.textContent = got.siblings.length === 0 ? `“${key}” not found (answered by ${got.answeredBy.join(', ')})` : `${got.siblings.length} version${got.siblings.length === 1 ? '' : 's'} of “${key}” (answered by ${got.answeredBy.join(', ')})`;
        } else {
          const context = contexts.get(key);
          const written = op === 'put' ? await node.put(key, parseValue(valueInput.value), context !== undefined ? { context } : {}) : await node.delete(key, context !== undefined ? { context } : {});
          contexts.set(key, written.context);
          result.textContent = `${op === 'put' ? 'stored' : 'deleted'} “${key}” as ${written.version.node}:${written.version.counter} (${written.acks} acks)`;
        }
        result.dataset.state = 'ok';
      } catch (error) {
        result.dataset.state = 'error';
        const err = error as Error;
        result.textContent = `${err.name}: ${err.message}`;
      }
    })();
  });

  window.dynamo = {
    id: node.id,
    cluster,
    node,
    put: node.put.bind(node),
    get: node.get.bind(node),
    delete: node.delete.bind(node),
    members: node.members.bind(node),
    preferenceList: node.preferenceList.bind(node),
    ring: node.ring.bind(node),
    stats: node.stats.bind(node),
    config: node.config.bind(node),
    localKeys: node.localKeys.bind(node),
    on: node.on.bind(node) as DynamoNode['on'],
    join: node.join.bind(node),
    leave: node.leave.bind(node),
    remove: node.remove.bind(node),
    setCapacity: node.setCapacity.bind(node),
    ownershipHandoffStatus: node.ownershipHandoffStatus.bind(node),
    signalingStatus: node.signalingStatus.bind(node),
    connections: node.connections.bind(node),
    invitation: () => node.invitation(),
    removals: node.removals.bind(node),
    securityStats: node.securityStats.bind(node),
  };
  window.addEventListener('pagehide', () => void node.close());

  // ── the notes page and the routes (#/ the explorer, #/notes[/<id>] the notes) ──
  const notes = new NotesService(node);
  const notesView = new NotesView(notes, node.id);
  window.dynamoNotes = notes;
  const route = (): void => {
    const hash = location.hash;
    const onNotes = hash === '#/notes' || hash.startsWith('#/notes/');
    $('explorer-view').hidden = onNotes;
    $(onNotes ? 'nav-notes' : 'nav-explorer').setAttribute('aria-current', 'page');
    $(onNotes ? 'nav-explorer' : 'nav-notes').removeAttribute('aria-current');
    document.title = `${onNotes ? 'Notes' : 'Ring explorer'} · ${node.id} — tabdynamo`;
    notesView.show(onNotes, onNotes ? decodeURIComponent(hash.slice('#/notes'.length)) : '');
    render();
  };
  window.addEventListener('hashchange', route);
  route();
  void notes.start();
}

function optional<K extends string>(name: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: number };
}

/** JSON when it parses, else the text itself. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

let lastMembership = '';
/** The signaling server state last logged (its retries go through connecting and back: logged once). */
let lastServerState = '';

function describeEvent(event: DynamoEvent): string | undefined {
  switch (event.type) {
    case 'put':
      return `put ${event.key} → ${event.version.node}:${event.version.counter}, coordinated by ${event.coordinator}, ${event.acks} acks, ${event.latencyMs} ms`;
    case 'get':
      return `get ${event.key} → ${event.siblings} version(s) from ${event.answeredBy.join(', ')}, ${event.latencyMs} ms`;
    case 'read-repair':
      return `read repair of ${event.key} on ${event.replicas.join(', ')}`;
    case 'membership': {
      // Only when the set of members or their statuses changed (records change often: incarnations, handoff lists).
      const signature = event.members.map((m) => `${m.id}:${m.status}`).join(',');
      if (signature === lastMembership) return undefined;
      lastMembership = signature;
      return `membership: ${event.members.map((m) => (m.status === 'up' ? m.id : `${m.id} (${m.status})`)).join(', ')}`;
    }
    case 'message-dropped':
      return `dropped a message from ${event.from}: ${event.reason}`;
    case 'error':
      return `error (${event.context}): ${event.error.message}`;
    case 'reachability':
      return `${event.peer} is ${event.to} (was ${event.from})`;
    case 'hint-stored':
      return `holding a hint for ${event.intendedFor}: ${event.key}`;
    case 'hints-delivered':
      return `delivered ${event.count} hint${event.count === 1 ? '' : 's'} to ${event.peer}`;
    case 'hints-passed':
      return `passed ${event.count} hint${event.count === 1 ? '' : 's'} for ${event.intendedFor} to ${event.to} (leaving)`;
    case 'anti-entropy':
      return `anti-entropy with ${event.peer}: ${event.partitionsDiffering.length} of ${event.partitionsCompared} partitions differed, ${event.keysPulled} keys taken, ${event.keysPushed} sent`;
    case 'ownership-handoff':
      return event.keys > 0 || event.reason !== 'ownership' ? `handed partition ${event.partition} to ${event.peer}: ${event.keys} key${event.keys === 1 ? '' : 's'} in ${Math.round(event.durationMs)} ms (${event.reason})` : undefined;
    case 'partition-received':
      return `received partition ${event.partition}: this node now serves it`;
    case 'removal':
      return `${event.target} removed by ${event.by}`;
    case 'membership-change':
      return event.change === 'capacity' ? `${event.node} changed its capacity to ${event.capacity}` : `${event.node}: ${event.change}`;
    case 'gossip':
      return event.changed && event.direction === 'received' ? `gossip from ${event.peer} brought membership news` : undefined;
    case 'connectivity':
      return event.connected ? 'reconnected' : 'disconnected';
    case 'seeds':
      return event.seeds.length > 0 ? `seeds from signaling: ${event.seeds.join(', ')}` : undefined;
    case 'signaling': {
      if (event.server.state === 'connecting' || event.server.state === lastServerState) return undefined;
      const first = lastServerState === '';
      lastServerState = event.server.state;
      if (event.server.state === 'open') return first ? 'signaling server reachable' : 'signaling server reachable again';
      if (event.server.state === 'id-taken') return 'signaling server: this node’s id is still held by an older tab; retrying';
      return 'signaling server unreachable: retrying with backoff; new connections are set up through the cluster and between tabs of this browser';
    }
    default:
      return undefined;
  }
}

main().catch((error: unknown) => {
  const err = error instanceof Error ? error : new Error(String(error));
  window.dynamoError = { name: err.name, message: err.message };
  const status = document.getElementById('status');
  if (status) {
    status.textContent = `could not start: ${err.name}: ${err.message}`;
    status.dataset.state = 'error';
  }
  console.error(err);
});

// The service worker (the app opens offline) and the update notice, whether or not the node starts.
startAppUpdates();
