/**
 * Finding the page's elements (index.html): the one lookup every view uses. A missing element is a
 * programmer error (the page and the code disagree), so it throws rather than returning null.
 */

/**
 * The element with id `id`, typed as `T` (default HTMLElement).
 * @throws Error when the page has no such element (index.html and the code disagree).
 */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element as T;
}
