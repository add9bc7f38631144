/**
 * The console API: what a tab puts on `window` for developers (README, "Console API") and for the
 * end-to-end tests, which drive every tab through it. Its shape is a contract with both; change it
 * only together with README and test/e2e.
 *
 * ```
 *   window.dynamo          ConsoleApi: the node's public methods, bound, plus its id and cluster
 *   window.dynamoNotes     the notes page's NotesService
 *   window.explorerRenders the explorer's redraws (RenderLog, render-scheduler.ts)
 *   window.dynamoError     { name, message } when the node could not start
 * ```
 *
 * `window.dynamo` appears once the node has started: tests wait for it (or for `dynamoError`).
 */
import type { DynamoNode } from '../index.js';
import type { NotesService } from './notes/notes-service.js';
import type { RenderLog } from './render-scheduler.js';

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
  /** The invitation link that lets another browser join this cluster (it carries the cluster secret): `node.invitation()`. */
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
    /**
     * The explorer's redraws (render-scheduler.ts): `count` redraws that drew something, `skipped` ones
     * that found nothing changed, `drawn` times each part was drawn, and the tasks they ran as (the last
     * 9,000–10,000: start, performance.now() ms; duration, ms; which part, or 'plan').
     */
    explorerRenders?: RenderLog;
  }
}

/** The console API of `node` (of cluster `cluster`): each method bound, so `const { put } = dynamo` works. */
export function consoleApi(node: DynamoNode, cluster: string): ConsoleApi {
  return {
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
}

/** What a started page exposes (see the module comment). */
export interface ExposedPage {
  node: DynamoNode;
  cluster: string;
  notes: NotesService;
  renders: RenderLog;
}

/**
 * Puts the started page on `target` (the window): `dynamo`, `dynamoNotes` and `explorerRenders`, all in
 * one synchronous step, so that a test that sees `dynamo` sees the others too.
 */
export function exposeConsoleApi(target: Window, page: ExposedPage): void {
  target.explorerRenders = page.renders;
  target.dynamo = consoleApi(page.node, page.cluster);
  target.dynamoNotes = page.notes;
}

/** Records a start failure as `window.dynamoError` (`name` and `message`: errors lose their class across evaluate). */
export function exposeStartError(target: Window, error: Error): void {
  target.dynamoError = { name: error.name, message: error.message };
}
