/**
 * The page's bootstrap: starts this tab's node and builds the page around it. Every piece of state
 * lives in an object made here, once per page; the modules hold none.
 *
 * ```
 *   url-config.ts       address → node options       (nodeOptionsFromUrl, forgetInvitation)
 *   DynamoNode.start    this tab's node               (the public API, src/index.ts)
 *   render-scheduler.ts redraws of what changed        ─┬─ node-header.ts            the header, both views
 *                       (none while the page is hidden) └─ explorer/explorer-page.ts the ring explorer
 *   notes/              the notes service and page
 *   router.ts           #/ explorer, #/notes[/<id>]  (shows one view, hides the other)
 *   console-api.ts      window.dynamo & co.           (for developers and the e2e tests)
 *   app-update.ts       service worker, update notice (started whether or not the node starts)
 * ```
 *
 * The UI uses only the public API (`src/index.ts`); a lint rule keeps it so.
 */
import { DynamoNode } from '../index.js';
import { ReloadGuard, startAppUpdates } from './app-update.js';
import { exposeConsoleApi, exposeStartError } from './console-api.js';
import { byId } from './dom.js';
import { ExplorerPage } from './explorer/explorer-page.js';
import { NodeHeader } from './node-header.js';
import { takeSnapshot } from './node-snapshot.js';
import { NotesService } from './notes/notes-service.js';
import { NotesView } from './notes/notes-view.js';
import { RenderScheduler, type RenderJob } from './render-scheduler.js';
import { Router } from './router.js';
import { forgetInvitation, nodeOptionsFromUrl } from './url-config.js';
import './style.css';

/**
 * Starts the node from the page's address, then the header, the explorer, the notes, the routes and
 * the console API. @throws whatever `DynamoNode.start` throws (the caller shows it).
 */
async function startPage(reloadGuard: ReloadGuard): Promise<void> {
  byId('status').textContent = 'joining…';
  const options = nodeOptionsFromUrl(location);
  const node = await DynamoNode.start(options);
  forgetInvitation(location, history);

  // A redraw reads the node once, plans the header and the explorer's panels, and draws those that changed.
  const scheduler: RenderScheduler = new RenderScheduler((): RenderJob[] => {
    const snapshot = takeSnapshot(node, Date.now());
    return [header.job(snapshot), ...explorer.panelJobs(snapshot)];
  });
  const header = new NodeHeader(node, options.cluster, scheduler);
  const explorer = new ExplorerPage(node, {
    redraws: scheduler,
    membershipAction: (label, action) => header.membershipAction(label, action),
  });
  window.addEventListener('pagehide', () => void node.close());

  const notes = new NotesService(node);
  const notesView = new NotesView(notes, node.id, reloadGuard);
  exposeConsoleApi(window, { node, cluster: options.cluster, notes, renders: scheduler.log });
  new Router({
    explorer,
    notes: notesView,
    navExplorer: byId('nav-explorer'),
    navNotes: byId('nav-notes'),
    nodeId: node.id,
    onRoute: () => scheduler.request(),
  }).start();
  void notes.start();
}

/** Shows a start failure in the header's status and as `window.dynamoError` (tests read it). */
function showStartError(error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  exposeStartError(window, err);
  const status = document.getElementById('status');
  if (status) {
    status.textContent = `could not start: ${err.name}: ${err.message}`;
    status.dataset.state = 'error';
  }
  console.error(err);
}

function bootstrap(): void {
  const reloadGuard = new ReloadGuard();
  startPage(reloadGuard).catch(showStartError);
  // The service worker (the app opens offline) and the update notice, whether or not the node starts.
  startAppUpdates(reloadGuard);
}

bootstrap();
