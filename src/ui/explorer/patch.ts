/**
 * Redraws a panel by building it afresh, detached, and letting morphdom carry only the differences
 * into the page: unchanged rows, chips and counters keep their DOM nodes, so a redraw costs layout only
 * where something changed (the explorer redraws up to four times a second with 30 members and more).
 * Elements are matched by `data-key`, else `data-node`, else `id`.
 */
import morphdom from 'morphdom';

export function patch(target: HTMLElement, build: (box: HTMLElement) => void): void {
  const fresh = target.cloneNode(false) as HTMLElement;
  build(fresh);
  morphdom(target, fresh, {
    childrenOnly: true,
    getNodeKey: (node) => (node instanceof HTMLElement ? (node.dataset.key ?? node.dataset.node ?? (node.id || undefined)) : undefined),
  });
}
