/**
 * The page's address as settings: the query string chooses the cluster and its tuning, the fragment may
 * carry an invitation. Everything here reads a location given to it; nothing is kept.
 *
 * ```
 *   /?cluster=demo&n=3&r=2&w=2&q=256&capacity=1&maxConnections=8&hints=off&adopt=off#invite=<secret>
 *     └─ query: DynamoNodeOptions ─────────────────────────────────────────────────┘ └─ fragment ──┘
 *   (also tombstoneGraceMs=…, the time a delete is kept before it may be purged)
 * ```
 *
 * Query parameters (README, "The page"): cluster (default "default"); n, r, w, q (partitions),
 * capacity, maxConnections (numbers); hints=off turns hinted handoff off (a strict quorum, to watch
 * anti-entropy repair on its own); adopt=off keeps a new tab from taking over a closed tab's node;
 * tombstoneGraceMs (a number) sets how long deletes are kept before they may be purged.
 * The fragment `#invite=…` (issue 16) carries the cluster secret; once the node has it, the page removes
 * it from the address bar ({@link forgetInvitation}). The routes (`#/notes`) are read by router.ts.
 */
import { InvalidOptionError, peerClientOptions, type DynamoNodeOptions } from '../index.js';
import { withoutInvitation } from './explorer/security-model.js';

/** What {@link nodeOptionsFromUrl} reads: the parts of `window.location` it needs. */
export type PageLocation = Pick<Location, 'search' | 'hash' | 'hostname' | 'port' | 'protocol'>;

/** The node's start options read from the page's address; `cluster` is always set. */
export type UrlNodeOptions = DynamoNodeOptions & { cluster: string };

/**
 * The options to start this tab's node with, read from `location`'s query and fragment (see the module
 * comment for the parameters). The signaling server is the page's own origin.
 * @throws InvalidOptionError when a numeric parameter is not a number (the page shows it as a start error).
 */
export function nodeOptionsFromUrl(location: PageLocation): UrlNodeOptions {
  const params = new URLSearchParams(location.search);
  return {
    cluster: params.get('cluster') ?? 'default',
    ...optional('n', intParam(params, 'n')),
    ...optional('r', intParam(params, 'r')),
    ...optional('w', intParam(params, 'w')),
    ...optional('q', intParam(params, 'q')),
    ...optional('capacity', intParam(params, 'capacity')),
    ...optional('maxConnections', intParam(params, 'maxConnections')),
    ...pageConfig(params),
    // A new tab takes over a closed tab's node (and its data) unless adopt=off.
    adoptClosedNodes: params.get('adopt') !== 'off',
    signaling: peerClientOptions(location),
    // An invitation link's fragment carries the cluster secret; without one the browser's own is used (or made).
    invitation: location.hash,
  };
}

/** The node settings the query may set: hints=off, tombstoneGraceMs. */
function pageConfig(params: URLSearchParams): { config?: NonNullable<DynamoNodeOptions['config']> } {
  const config: NonNullable<DynamoNodeOptions['config']> = {};
  // hints=off turns hinted handoff off (strict quorum), e.g. to watch anti-entropy repair on its own.
  if (params.get('hints') === 'off') config.hintedHandoff = false;
  const graceMs = intParam(params, 'tombstoneGraceMs');
  if (graceMs !== undefined) config.tombstoneGraceMs = graceMs;
  return Object.keys(config).length > 0 ? { config } : {};
}

/**
 * Removes an invitation (`#invite=…`) from the address bar, once the node has taken the secret (and
 * stored it for this browser's other tabs): it stays out of bookmarks and of the history entry. The
 * page is not reloaded and the history entry is replaced, not added.
 */
export function forgetInvitation(location: Pick<Location, 'href'>, history: Pick<History, 'state' | 'replaceState'>): void {
  const cleaned = withoutInvitation(location.href);
  if (cleaned !== undefined) history.replaceState(history.state, '', cleaned);
}

/**
 * The number in URL parameter `name`, or undefined when it is absent or empty.
 * @throws InvalidOptionError when it is there but not a finite number.
 */
function intParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new InvalidOptionError(`URL parameter ${name} must be a number, got "${raw}"`);
  return value;
}

/** `{ [name]: value }`, or no property at all when `value` is undefined (the node's default applies). */
function optional<K extends string>(name: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: number };
}
