/**
 * Byte compaction shared by both stores. A `Uint8Array` that views part of a larger buffer (as
 * `@msgpack/msgpack`'s `encode` returns: 4 bytes of data in a 2 KiB buffer) would be stored or cloned
 * with its whole buffer, multiplying the space small values take and handing readers a view at an
 * offset; both stores give every sibling's bytes a buffer of their own, so they return identical shapes.
 */
import type { Hint, VersionSet } from '../core/types.js';

/** `versions` with every sibling's bytes in their own buffer (the same object when nothing needs it). */
export function withCompactData(versions: VersionSet): VersionSet {
  const needsCopy = versions.siblings.some(({ data }) => data !== null && data.byteLength !== data.buffer.byteLength);
  if (!needsCopy) return versions;
  return {
    ...versions,
    siblings: versions.siblings.map((sibling) =>
      sibling.data === null || sibling.data.byteLength === sibling.data.buffer.byteLength ? sibling : { ...sibling, data: new Uint8Array(sibling.data) },
    ),
  };
}

/** `hint` with its version set compacted as by {@link withCompactData}. */
export function withCompactHint(hint: Hint): Hint {
  const versions = withCompactData(hint.versions);
  return versions === hint.versions ? hint : { ...hint, versions };
}
