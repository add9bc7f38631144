/**
 * The explorer's views of the members-only cluster (issue 16), placed by the header (node-header.ts)
 * and the explorer page (explorer-page.ts) and fed from the public API through the wording of
 * security-model.ts:
 *
 *   header           NewClusterNotice    "This browser started a new cluster named …" [Dismiss]
 *   Nodes panel      RemovalsList        "b3k removed by a1x at 14:02:11", newest first
 *   Connections      HandshakeCounters   handshakes accepted / refused (by reason), connections refused,
 *                                        records and removals rejected, handshake time
 *
 * Each builds its own elements (written with textContent only) and rewrites them only when what they
 * show changed: the explorer redraws up to four times a second.
 */
import { CountersView } from './panels.js';
import { PatchedPanel, setText } from './patch.js';
import { handshakeTime, newClusterNotice, refusalReasons, securityCounters, type RemovalLine, type SecretSource, type SecurityStatsView } from './security-model.js';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/**
 * The notice of a browser that started a cluster of its own (see {@link newClusterNotice}). It goes
 * for good once the user dismisses it or once another member has been seen: the cluster is then
 * somebody's, and a member leaving later does not make it a mistake again.
 */
export class NewClusterNotice {
  readonly box: HTMLElement;
  private readonly text: Text;
  private done = false;

  /** Puts the (hidden) notice after `after` in the header. */
  constructor(after: Element) {
    this.box = el('div', undefined, 'new-cluster');
    this.box.id = 'new-cluster';
    this.box.setAttribute('role', 'status');
    this.box.hidden = true;
    const message = el('p');
    this.text = document.createTextNode('');
    message.append(this.text);
    const dismiss = el('button', 'Dismiss', 'secondary small');
    dismiss.type = 'button';
    dismiss.id = 'new-cluster-dismiss';
    dismiss.setAttribute('aria-label', 'Dismiss the notice about the new cluster');
    dismiss.addEventListener('click', () => {
      this.done = true;
      this.box.hidden = true;
    });
    this.box.append(message, dismiss);
    after.after(this.box);
  }

  update(source: SecretSource, cluster: string, otherMembers: number): void {
    if (otherMembers > 0) this.done = true;
    const notice = this.done ? undefined : newClusterNotice(source, cluster, otherMembers);
    if (notice !== undefined && this.text.data !== notice) this.text.data = notice;
    if (this.box.hidden !== (notice === undefined)) this.box.hidden = notice === undefined;
  }
}

/** The removals of the Nodes panel: a heading and a list, hidden while there are none. */
export class RemovalsList {
  private readonly box: HTMLElement;
  private readonly list: PatchedPanel;

  /** Appends the (hidden) section to `panel`. */
  constructor(panel: Element) {
    this.box = el('div', undefined, 'removals');
    this.box.hidden = true;
    const heading = el('h3', 'Removals', 'subhead');
    heading.id = 'removals-title';
    const hint = el('p', 'Signed statements: each names the member that made it. A removed node stays removed.', 'muted');
    const list = el('ol', undefined, 'removals-list');
    list.id = 'removals';
    list.setAttribute('aria-labelledby', 'removals-title');
    this.list = new PatchedPanel(list);
    this.box.append(heading, hint, list);
    panel.append(this.box);
  }

  update(lines: readonly RemovalLine[]): void {
    if (this.box.hidden !== (lines.length === 0)) this.box.hidden = lines.length === 0;
    this.list.patchIfChanged(JSON.stringify(lines), (box) => {
      for (const line of lines) {
        const item = el('li');
        item.dataset.key = line.key;
        const time = el('time', line.time);
        time.dateTime = new Date(line.atMs).toISOString();
        item.append(`${line.who} at `, time);
        box.append(item);
      }
    });
  }
}

/** The handshake counters of the Connections panel, with the refusals by reason under them. */
export class HandshakeCounters {
  private readonly counters: CountersView;
  private readonly reasons: HTMLElement;

  /** Appends the section to `panel`. */
  constructor(panel: Element) {
    const heading = el('h3', 'Members only: handshakes', 'subhead');
    heading.id = 'security-title';
    const list = el('ul', undefined, 'counters');
    list.id = 'security-counters';
    list.setAttribute('aria-label', 'Handshakes, refused connections and rejected statements since this node started');
    this.reasons = el('p', '', 'muted');
    this.reasons.id = 'handshake-refusals';
    panel.append(heading, list, this.reasons);
    this.counters = new CountersView(list);
  }

  update(stats: SecurityStatsView): void {
    this.counters.update(securityCounters(stats));
    const time = handshakeTime(stats);
    setText(this.reasons, `Handshakes refused, by reason: ${refusalReasons(stats)}.${time === undefined ? '' : ` Handshake time: ${time}.`}`);
  }
}
