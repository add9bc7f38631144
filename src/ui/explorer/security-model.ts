/**
 * What the page says about the members-only cluster (issue 16), without the DOM: whether the address
 * bar still holds an invitation, the notice of a browser that started a cluster of its own, the
 * removal statements of the Nodes panel and the handshake counters of the Connections panel. Plain data
 * in (`secretSource`, `members()`, `removals()`, `securityStats()` of the public API), plain text out,
 * so the wording is unit-tested and the views only place it.
 *
 *   location.href    ──► withoutInvitation()   the same address without `#invite=…` (or undefined)
 *   secretSource     ──► newClusterNotice()    shown while this browser's new cluster has met no one
 *   removals()       ──► removalLines()        "b3k removed by a1x at 14:02:11", newest first
 *   securityStats()  ──► securityCounters(), refusalReasons()
 */
import type { Removal, SecretSource, SecurityStats } from '../../index.js';

/** One removal statement as `removals()` reports it: who removed whom, when (ms since the epoch). */
export type RemovalView = Pick<Removal, 'target' | 'by' | 'atMs'>;

/** The counters `securityStats()` reports. */
export type SecurityStatsView = SecurityStats;

/** Where the tab's cluster secret came from (`created`: this tab just started a cluster of its own). */
export type { SecretSource };

/** The fragment an invitation link carries its secret in: `#invite=<base64url>`. */
const INVITATION_FRAGMENT = /^#invite=/;

/**
 * `href` without its fragment when that fragment is an invitation (`#invite=…`), for
 * `history.replaceState` once the node has taken the secret: the secret is then neither left on
 * screen nor bookmarked by accident. Undefined when there is nothing to remove (no fragment, or one of
 * the page's own routes such as `#/notes`, which must stay).
 */
export function withoutInvitation(href: string): string | undefined {
  const url = new URL(href);
  if (!INVITATION_FRAGMENT.test(url.hash)) return undefined;
  url.hash = '';
  // URL keeps an empty '#' once a hash was set to ''; the address bar should show none.
  return url.href.replace(/#$/, '');
}

/**
 * The notice of a browser that started a cluster of its own: shown when this tab created the
 * cluster's secret (`created`) and knows no other member yet, since a user who meant to join someone
 * else's cluster of that name is now alone in a cluster that only shares the name. Undefined when
 * there is nothing to say (the secret came from this browser or an invitation, or others are there).
 */
export function newClusterNotice(source: SecretSource, cluster: string, otherMembers: number): string | undefined {
  if (source !== 'created' || otherMembers > 0) return undefined;
  return (
    `This browser started a new cluster named “${cluster}”. To join an existing cluster of that name instead, ` +
    'ask one of its members for its invitation link (the Invite button in their explorer) and open it here.'
  );
}

/** One line of the removals list. */
export interface RemovalLine {
  /** Stable key of the statement: target, remover and time. */
  key: string;
  /** When it was made, ms since the epoch. */
  atMs: number;
  /** "b3k removed by a1x" ("(this tab)" after this node's id). */
  who: string;
  /** The local time it was made, as `formatTime` gives it. */
  time: string;
  /** The whole line: "b3k removed by a1x at 14:02:11". */
  text: string;
}

/**
 * The removal statements as the Nodes panel lists them, newest first (ties by target, then remover,
 * so the order is stable across redraws). `formatTime` turns ms since the epoch into the local time
 * shown; `self` is this node's id, marked "(this tab)".
 */
export function removalLines(removals: readonly RemovalView[], self: string, formatTime: (atMs: number) => string): RemovalLine[] {
  const name = (id: string): string => (id === self ? `${id} (this tab)` : id);
  return [...removals]
    .sort((a, b) => b.atMs - a.atMs || a.target.localeCompare(b.target) || a.by.localeCompare(b.by))
    .map((r) => {
      const who = `${name(r.target)} removed by ${name(r.by)}`;
      const time = formatTime(r.atMs);
      return { key: `${r.target} ${r.by} ${r.atMs}`, atMs: r.atMs, who, time, text: `${who} at ${time}` };
    });
}

/**
 * A local time for a removal: the time of day when it was today (`nowMs`'s day), the date and time
 * otherwise. `locale` undefined: the browser's.
 */
export function formatRemovalTime(atMs: number, nowMs: number, locale?: string): string {
  const at = new Date(atMs);
  const sameDay = at.toDateString() === new Date(nowMs).toDateString();
  return sameDay ? at.toLocaleTimeString(locale) : at.toLocaleString(locale);
}

/** The handshake counters of the Connections panel, as [name, value] pairs (for `CountersView`). */
export function securityCounters(stats: SecurityStatsView): [string, number][] {
  return [
    ['handshakes accepted', stats.handshakesAccepted],
    ['handshakes refused', stats.handshakesRefused],
    ['connections refused', stats.connectionsRefused],
    ['records rejected', stats.recordsRejected],
    ['removals rejected', stats.removalsRejected],
  ];
}

/** Why a handshake failed, in words (the transport's reasons, src/net/handshake.ts). */
const REFUSAL_WORDS: Record<string, string> = {
  malformed: 'malformed handshake',
  'wrong-node': 'wrong node key',
  'not-admitted': 'removed node',
  'bad-mac': 'no cluster secret',
  'bad-signature': 'bad signature',
  'no-fingerprint': 'no DTLS fingerprint',
  timeout: 'timed out',
};

/**
 * Refused handshakes by reason, most frequent first: "no cluster secret 3, timed out 1", or "none".
 * A reason without words of its own is shown as its name, dashes as spaces.
 */
export function refusalReasons(stats: SecurityStatsView): string {
  const reasons = Object.entries(stats.refusedByReason as Record<string, number | undefined>)
    .map(([reason, count]) => [reason, count ?? 0] as const)
    .filter(([, count]) => count > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  return reasons.length === 0 ? 'none' : reasons.map(([reason, count]) => `${REFUSAL_WORDS[reason] ?? reason.replace(/[-_]/g, ' ')} ${count}`).join(', ');
}

/** How long handshakes took (median and most of the recent ones), or undefined before the first. */
export function handshakeTime(stats: SecurityStatsView): string | undefined {
  if (stats.handshakesAccepted === 0) return undefined;
  return `median ${Math.round(stats.handshakeMs.p50)} ms, at most ${Math.round(stats.handshakeMs.max)} ms`;
}
