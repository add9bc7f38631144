/**
 * The router: which view the page shows, from the URL fragment. Two views share the header:
 *
 * ```
 *   #/ (or anything else)   the ring explorer
 *   #/notes                 the notes page, no note open
 *   #/notes/<id>            the notes page with note <id> open (#/notes/new: a new note)
 * ```
 *
 * It marks the current view in the navigation (aria-current), names it in the tab's title, shows one
 * view and hides the other, and says so to `onRoute` (the page redraws). An invitation fragment
 * (`#invite=…`) is not a route: it shows the explorer (url-config.ts removes it).
 */

/** The view the fragment asks for; `path` is what follows `#/notes` (`''`, `'/new'`, `'/<id>'`). */
export type Route = { view: 'explorer' } | { view: 'notes'; path: string };

/** A view the router shows and hides; `path` is the route's path ('' for the explorer). */
export interface RoutedView {
  show(active: boolean, path: string): void;
}

/** What the router switches between. */
export interface RouterTargets {
  explorer: RoutedView;
  notes: RoutedView;
  /** The navigation's two links (index.html: #nav-explorer, #nav-notes). */
  navExplorer: HTMLElement;
  navNotes: HTMLElement;
  /** This tab's node id, for the title. */
  nodeId: string;
  /** Called after every change of view (and on start). */
  onRoute: (route: Route) => void;
}

const NOTES_PREFIX = '#/notes';

/** The route of URL fragment `hash` (`location.hash`, with its `#`). */
export function parseRoute(hash: string): Route {
  const onNotes = hash === NOTES_PREFIX || hash.startsWith(`${NOTES_PREFIX}/`);
  return onNotes ? { view: 'notes', path: decodeURIComponent(hash.slice(NOTES_PREFIX.length)) } : { view: 'explorer' };
}

/** Follows the fragment of `target` (the window) and shows the view it names. */
export class Router {
  private readonly onHashChange = (): void => this.route();

  constructor(
    private readonly targets: RouterTargets,
    private readonly target: Window = window,
  ) {}

  /** Shows the current route's view, then follows every change of the fragment. */
  start(): void {
    this.target.addEventListener('hashchange', this.onHashChange);
    this.route();
  }

  /** Stops following the fragment. */
  stop(): void {
    this.target.removeEventListener('hashchange', this.onHashChange);
  }

  /** The route the fragment names now. */
  current(): Route {
    return parseRoute(this.target.location.hash);
  }

  private route(): void {
    const route = this.current();
    const onNotes = route.view === 'notes';
    const { explorer, notes, navExplorer, navNotes, nodeId } = this.targets;
    explorer.show(!onNotes, '');
    (onNotes ? navNotes : navExplorer).setAttribute('aria-current', 'page');
    (onNotes ? navExplorer : navNotes).removeAttribute('aria-current');
    this.target.document.title = `${onNotes ? 'Notes' : 'Ring explorer'} · ${nodeId} — tabdynamo`;
    notes.show(onNotes, onNotes ? route.path : '');
    this.targets.onRoute(route);
  }
}
