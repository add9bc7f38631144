/**
 * Redraws a panel by building it afresh, detached, and letting morphdom carry only the differences
 * into the page: unchanged rows, chips and counters keep their DOM nodes, so a redraw costs layout only
 * where something changed (the explorer redraws up to four times a second with 30 members and more).
 * Elements marked with `data-key` are matched by it; the others by position.
 */
import morphdom from 'morphdom';

/** Rebuilds `target`'s children with `build` (on a detached, empty copy), carrying only the differences into the page. */
export function patch(target: HTMLElement, build: (box: HTMLElement) => void): void {
  const fresh = target.cloneNode(false) as HTMLElement;
  build(fresh);
  morphdom(target, fresh, {
    childrenOnly: true,
    // Only elements marked with data-key are matched by key (log lines, note cards); the rest by position.
    getNodeKey: (node) => (node.nodeType === 1 ? ((node as Element).getAttribute('data-key') ?? undefined) : undefined),
    // The page's Content-Security-Policy refuses `style` attributes (no inline styles), which is how
    // morphdom would carry a changed inline style (a chip's swatch colour: without this, a chip reused
    // for another node kept the old node's colour). Through the CSSOM it is allowed: copy it first, so
    // that morphdom then finds the attributes equal.
    onBeforeElUpdated: (from, to) => {
      const fromStyle = (from as HTMLElement).style;
      const toStyle = (to as HTMLElement).style;
      if (fromStyle !== undefined && toStyle !== undefined && fromStyle.cssText !== toStyle.cssText) fromStyle.cssText = toStyle.cssText;
      return true;
    },
  });
}

/**
 * A panel redrawn with {@link patch}, skipped when its `signature` (a string summing up everything the
 * panel shows) equals the one of its last redraw: most redraws change one or two panels, not all of
 * them. The panel object keeps that signature, so create one per element and keep it.
 */
export class PatchedPanel {
  private signature: string | undefined;

  constructor(readonly element: HTMLElement) {}

  /** Rebuilds the panel with `build` (see {@link patch}) unless `signature` is the last one drawn. */
  patchIfChanged(signature: string, build: (box: HTMLElement) => void): void {
    if (this.signature === signature) return;
    this.signature = signature;
    patch(this.element, build);
  }
}

/**
 * Sets an element's text only when it differs: writing the same text still replaces the text node
 * and makes the browser lay the page out again, on every redraw.
 */
export function setText(element: HTMLElement, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

/**
 * Puts `item` right after `previous` in `parent` (first when `previous` is null), moving it only when
 * it is not there already; returns it, the next call's `previous`. Keyed views use it to keep their
 * items in the order given without touching those already in place.
 */
export function placeAfter(parent: Element, previous: Element | null, item: Element): Element {
  const expected = previous ? previous.nextElementSibling : parent.firstElementChild;
  if (expected !== item) {
    if (previous) previous.after(item);
    else parent.prepend(item);
  }
  return item;
}
