/**
 * The ring drawing of the explorer: Q partitions as arcs (d3-shape) coloured by owner, this node's
 * partitions marked, one partition selectable (pointer or keyboard), and a key's position (paper §4.2:
 * MD5 of the key) shown as a needle with its preference list's partitions highlighted.
 *
 * Arcs are created once per ring size and only their colours change afterwards, so an ownership
 * change animates (a CSS transition on `fill`) and an update costs O(Q) attribute writes.
 */
import { arc } from 'd3-shape';
import { scaleLinear } from 'd3-scale';
import type { Ring } from '../../index.js';

const SVG = 'http://www.w3.org/2000/svg';
const TWO_POW_128 = 2 ** 128;

/** What the ring shows about a key typed in the lookup. */
export interface KeyMarker {
  /** Position on the ring in [0, 2^128), as a bigint. */
  position: bigint;
  partition: number;
  /** Partitions of the key's N replicas (the first is the key's own). */
  replicaPartitions: number[];
}

export class RingView {
  private paths: SVGPathElement[] = [];
  private marks: SVGPathElement[] = [];
  private readonly arcs: SVGGElement;
  private readonly overlay: SVGGElement;
  private readonly label: SVGTextElement;
  private ownersSignature = '';
  private partitionCount = 0;
  private selected: number | undefined;
  private titles: SVGTitleElement[] = [];
  /** What the key overlay shows now ('' for nothing). */
  private keySignature = '';

  constructor(
    private readonly svg: SVGSVGElement,
    private readonly onSelect: (partition: number) => void,
  ) {
    this.arcs = document.createElementNS(SVG, 'g');
    this.overlay = document.createElementNS(SVG, 'g');
    this.overlay.setAttribute('class', 'overlay');
    this.label = document.createElementNS(SVG, 'text');
    this.label.setAttribute('text-anchor', 'middle');
    this.label.setAttribute('dy', '0.35em');
    svg.replaceChildren(this.arcs, this.overlay, this.label);
    svg.addEventListener('click', (event) => {
      const p = (event.target as Element).getAttribute('data-partition');
      if (p !== null) this.onSelect(Number(p));
    });
    // Keyboard: the ring is one tab stop; arrows move the selection, Home/End jump.
    svg.addEventListener('keydown', (event) => {
      if (this.partitionCount === 0) return;
      const current = this.selected ?? 0;
      const step = event.shiftKey ? Math.max(1, this.partitionCount / 16) : 1;
      let next: number | undefined;
      if (event.key === 'ArrowRight' || event.key === 'ArrowDown') next = (current + step) % this.partitionCount;
      else if (event.key === 'ArrowLeft' || event.key === 'ArrowUp') next = (current - step + this.partitionCount) % this.partitionCount;
      else if (event.key === 'Home') next = 0;
      else if (event.key === 'End') next = this.partitionCount - 1;
      if (next === undefined) return;
      event.preventDefault();
      this.onSelect(next);
    });
  }

  /** Redraws owners (only what changed), legend colours come from `colours`. */
  update(ring: Ring, self: string, colours: ReadonlyMap<string, string>): void {
    const q = ring.partitionCount;
    if (q !== this.partitionCount) this.build(q);
    const owners = ring.members.length > 0 ? ring.owners() : [];
    const signature = `${owners.join(',')}|${[...colours].join(',')}`;
    if (signature === this.ownersSignature) return;
    this.ownersSignature = signature;
    // Only partitions whose owner or colour changed are touched (a join moves a few dozen of Q).
    for (let p = 0; p < q; p++) {
      const owner = owners[p];
      const fill = owner === undefined ? 'transparent' : (colours.get(owner) ?? 'gray');
      const path = this.paths[p]!;
      if (path.getAttribute('fill') !== fill) path.setAttribute('fill', fill);
      const title = owner === undefined ? `partition ${p}: no owner` : `partition ${p}: ${owner}${owner === self ? ' (this tab)' : ''}`;
      if (this.titles[p]!.textContent !== title) this.titles[p]!.textContent = title;
      const visibility = owner === self ? 'visible' : 'hidden';
      if (this.marks[p]!.style.visibility !== visibility) this.marks[p]!.style.visibility = visibility;
    }
    this.label.textContent = owners.length === 0 ? 'no owner yet' : `${q} partitions`;
  }

  /** Outlines `partition` (or nothing). */
  select(partition: number | undefined): void {
    if (this.selected !== undefined) this.paths[this.selected]?.classList.remove('selected');
    this.selected = partition;
    if (partition !== undefined) {
      const path = this.paths[partition];
      path?.classList.add('selected');
      // Draw it last so its outline is on top.
      if (path) this.arcs.append(path);
      this.svg.setAttribute('aria-activedescendant', `partition-${partition}`);
    }
  }

  /** Shows a key's needle and its replicas' partitions, or clears them (redrawn only when they changed). */
  showKey(marker: KeyMarker | undefined): void {
    const signature = marker === undefined || this.partitionCount === 0 ? '' : `${this.partitionCount}|${marker.position}|${marker.replicaPartitions.join(',')}`;
    if (signature === this.keySignature) return;
    this.keySignature = signature;
    this.overlay.replaceChildren();
    if (marker === undefined || this.partitionCount === 0) return;
    const q = this.partitionCount;
    const band = arc<number>()
      .innerRadius(101)
      .outerRadius(106)
      .startAngle((p) => (p / q) * 2 * Math.PI)
      .endAngle((p) => ((p + 1) / q) * 2 * Math.PI);
    marker.replicaPartitions.forEach((p, i) => {
      const path = document.createElementNS(SVG, 'path');
      path.setAttribute('d', band(p) ?? '');
      path.setAttribute('class', i === 0 ? 'key-home' : 'key-replica');
      this.overlay.append(path);
    });
    // The needle: the key's exact angle (a position's fraction of 2^128; a double is precise enough to draw).
    const angle = scaleLinear().domain([0, TWO_POW_128]).range([0, 2 * Math.PI])(Number(marker.position));
    const needle = document.createElementNS(SVG, 'line');
    needle.setAttribute('x1', String(Math.sin(angle) * 50));
    needle.setAttribute('y1', String(-Math.cos(angle) * 50));
    needle.setAttribute('x2', String(Math.sin(angle) * 109));
    needle.setAttribute('y2', String(-Math.cos(angle) * 109));
    needle.setAttribute('class', 'needle');
    this.overlay.append(needle);
  }

  private build(q: number): void {
    this.partitionCount = q;
    const shape = arc<number>()
      .innerRadius(62)
      .outerRadius(100)
      .startAngle((p) => (p / q) * 2 * Math.PI)
      .endAngle((p) => ((p + 1) / q) * 2 * Math.PI)
      .padAngle(q <= 64 ? 0.01 : 0);
    const ownMark = arc<number>()
      .innerRadius(56)
      .outerRadius(60)
      .startAngle((p) => (p / q) * 2 * Math.PI)
      .endAngle((p) => ((p + 1) / q) * 2 * Math.PI);
    this.paths = [];
    this.marks = [];
    this.titles = [];
    const nodes: SVGElement[] = [];
    for (let p = 0; p < q; p++) {
      const path = document.createElementNS(SVG, 'path');
      path.setAttribute('d', shape(p) ?? '');
      path.setAttribute('data-partition', String(p));
      path.setAttribute('id', `partition-${p}`);
      path.setAttribute('role', 'option');
      const title = document.createElementNS(SVG, 'title');
      path.append(title);
      const mark = document.createElementNS(SVG, 'path');
      mark.setAttribute('d', ownMark(p) ?? '');
      mark.setAttribute('class', 'mine');
      mark.style.visibility = 'hidden';
      this.paths.push(path);
      this.marks.push(mark);
      this.titles.push(title);
      nodes.push(path, mark);
    }
    this.arcs.replaceChildren(...nodes);
    this.ownersSignature = '';
    this.keySignature = '';
    this.overlay.replaceChildren();
    this.selected = undefined;
  }
}
