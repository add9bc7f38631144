/**
 * Whether the page is on screen (the Page Visibility API: `document.visibilityState`, the
 * `visibilitychange` event), behind a narrow interface so that the render scheduler and the views can
 * be tested in Node with a fake. A hidden page draws nothing: a tab in the background, a minimised
 * window, a locked screen.
 */

/** The page's visibility: read it, and hear of its changes. */
export interface PageVisibility {
  /** True while the page is not on screen (`document.visibilityState` is 'hidden'). */
  readonly hidden: boolean;
  /** Calls `listener` after every change of {@link hidden}; returns the function that stops it. */
  onChange(listener: () => void): () => void;
}

/** The visibility of `target` (the page's document). */
export function documentVisibility(target: Document = document): PageVisibility {
  return {
    get hidden(): boolean {
      return target.visibilityState === 'hidden';
    },
    onChange(listener: () => void): () => void {
      target.addEventListener('visibilitychange', listener);
      return () => target.removeEventListener('visibilitychange', listener);
    },
  };
}
