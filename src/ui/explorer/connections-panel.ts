/**
 * The Connections panel: this node's data-channel connections, how each was set up (the signaling
 * server, a relay through a member, or another tab of this browser), setups and offers per path, the
 * relay's counters and the tabs of this browser (DESIGN.md §3 "Signaling paths").
 *
 * Updated in place like the members table: a row per connection kept across redraws (keyed by node,
 * direction and rank), whose cells change only where their text changed; the per-path table's cells
 * and the counters likewise. What it shows comes as text from `connectionsView` (signaling-model.ts);
 * ages and idle times move by themselves (coarsely, see `formatAgeMs`), the rest seldom.
 */
import { CountersView } from './panels.js';
import { placeAfter, setText } from './patch.js';
import { describeNetworkPath, type ConnectionRow, type ConnectionsView, type NetworkPathView, type PathRow } from './signaling-model.js';

const CONNECTION_COLUMNS = ['node', 'direction', 'state', 'setup', 'network', 'age', 'idle'] as const;
const CONNECTION_LABELS: Partial<Record<(typeof CONNECTION_COLUMNS)[number], string>> = { setup: 'set up through', network: 'network path', age: 'age', idle: 'idle' };
const PATH_COLUMNS = ['label', 'setups', 'setupsLastMinute', 'offersSent', 'offersReceived'] as const;

interface RowNodes {
  tr: HTMLTableRowElement;
  texts: Map<string, Text>;
  swatch: HTMLElement;
}

/** The elements the panel writes into (see index.html). */
export interface ConnectionsPanelElements {
  summary: HTMLElement;
  connections: HTMLTableSectionElement;
  empty: HTMLElement;
  paths: HTMLTableSectionElement;
  counters: HTMLElement;
  drops: HTMLElement;
  sameBrowser: HTMLElement;
}

export class ConnectionsPanel {
  private readonly rows = new Map<string, RowNodes>();
  private readonly pathCells = new Map<string, Text>();
  private readonly counters: CountersView;
  private readonly chips = new Map<string, { item: HTMLLIElement; swatch: HTMLElement; text: Text }>();
  private readonly noneItem: HTMLLIElement;
  /** Each connected node's network path, as last read from getStats (see {@link setNetworkPaths}). */
  private networkPaths = new Map<string, string>();

  constructor(private readonly elements: ConnectionsPanelElements) {
    this.counters = new CountersView(elements.counters);
    this.noneItem = document.createElement('li');
    this.noneItem.className = 'more';
    this.noneItem.textContent = 'none: no other tab of this cluster is open in this browser';
  }

  /** The network paths of the open connections (read asynchronously by the page); shown from the next update. */
  setNetworkPaths(paths: readonly NetworkPathView[]): void {
    this.networkPaths = new Map(paths.map((p) => [p.node, describeNetworkPath(p)]));
  }

  /** Shows `view`, the swatches in `colours` (a colour per node). */
  update(view: ConnectionsView, colours: ReadonlyMap<string, string>): void {
    this.updateRows(view.rows, colours);
    setText(this.elements.summary, view.summary);
    if (this.elements.empty.hidden !== view.rows.length > 0) this.elements.empty.hidden = view.rows.length > 0;
    this.updatePaths(view.paths);
    this.counters.update(view.counters);
    setText(this.elements.drops, view.drops);
    this.updateSameBrowser(view.sameBrowser, colours);
  }

  /**
   * The tabs of this browser as chips, kept in place (keyed by node id). Not patched with morphdom: a
   * patch copies the swatch's colour as a `style` attribute, which the page's Content-Security-Policy
   * (no inline styles) refuses; set through the CSSOM it is allowed.
   */
  private updateSameBrowser(tabs: ConnectionsView['sameBrowser'], colours: ReadonlyMap<string, string>): void {
    const list = this.elements.sameBrowser;
    const none = tabs.length === 0;
    if (none !== (this.noneItem.parentElement === list)) {
      if (none) list.append(this.noneItem);
      else this.noneItem.remove();
    }
    let previous: Element | null = null;
    for (const { node: id, connected } of tabs) {
      let chip = this.chips.get(id);
      if (chip === undefined) {
        const item = document.createElement('li');
        item.className = 'chip';
        item.dataset.node = id;
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        const name = document.createElement('span');
        name.className = 'id';
        name.textContent = id;
        const meta = document.createElement('span');
        meta.className = 'meta';
        const text = document.createTextNode('');
        meta.append(text);
        item.append(swatch, name, meta);
        chip = { item, swatch, text };
        this.chips.set(id, chip);
      }
      const colour = colours.get(id) ?? 'gray';
      if (chip.swatch.dataset.colour !== colour) {
        chip.swatch.dataset.colour = colour;
        chip.swatch.style.background = colour;
      }
      const meta = connected ? ' connected' : ' not connected';
      if (chip.text.data !== meta) chip.text.data = meta;
      previous = placeAfter(list, previous, chip.item);
    }
    for (const [id, chip] of this.chips) {
      if (tabs.some((tab) => tab.node === id)) continue;
      chip.item.remove();
      this.chips.delete(id);
    }
  }

  private updateRows(rows: ConnectionRow[], colours: ReadonlyMap<string, string>): void {
    const seen = new Set<string>();
    let previous: Element | null = null;
    for (const row of rows) {
      seen.add(row.key);
      const nodes = this.rows.get(row.key) ?? this.createRow(row.key);
      const data = nodes.tr.dataset;
      if (data.node !== row.node) data.node = row.node;
      if (data.direction !== row.direction) data.direction = row.direction;
      if (data.state !== row.stateKind) data.state = row.stateKind;
      const path = row.path ?? '';
      if (data.setup !== path) data.setup = path;
      const texts: Record<(typeof CONNECTION_COLUMNS)[number], string> = {
        node: row.node,
        direction: row.direction,
        state: row.state,
        setup: row.setup,
        network: row.stateKind === 'open' ? (this.networkPaths.get(row.node) ?? '…') : '—',
        age: row.age,
        idle: row.idle,
      };
      for (const column of CONNECTION_COLUMNS) {
        const text = nodes.texts.get(column)!;
        if (text.data !== texts[column]) text.data = texts[column];
      }
      // Compared with the colour last set (the style reads back as rgb(), never as given).
      const colour = colours.get(row.node) ?? 'transparent';
      if (nodes.swatch.dataset.colour !== colour) {
        nodes.swatch.dataset.colour = colour;
        nodes.swatch.style.background = colour;
      }
      previous = placeAfter(this.elements.connections, previous, nodes.tr);
    }
    for (const [key, nodes] of this.rows) {
      if (seen.has(key)) continue;
      nodes.tr.remove();
      this.rows.delete(key);
    }
  }

  private createRow(key: string): RowNodes {
    const tr = document.createElement('tr');
    tr.dataset.key = key;
    const texts = new Map<string, Text>();
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    for (const column of CONNECTION_COLUMNS) {
      const td = document.createElement('td');
      td.dataset.col = column;
      // The narrow layout (a row per line, no header) names these cells itself.
      const label = CONNECTION_LABELS[column];
      if (label !== undefined) td.dataset.label = label;
      const text = document.createTextNode('');
      texts.set(column, text);
      if (column === 'node') td.append(swatch, text);
      else td.append(text);
      tr.append(td);
    }
    const nodes = { tr, texts, swatch };
    this.rows.set(key, nodes);
    return nodes;
  }

  private updatePaths(rows: PathRow[]): void {
    for (const row of rows) {
      for (const column of PATH_COLUMNS) {
        const id = `${row.path} ${column}`;
        let text = this.pathCells.get(id);
        if (text === undefined) {
          let tr = this.elements.paths.querySelector<HTMLTableRowElement>(`tr[data-path="${row.path}"]`);
          if (tr === null) {
            tr = document.createElement('tr');
            tr.dataset.path = row.path;
            this.elements.paths.append(tr);
          }
          const cell = document.createElement(column === 'label' ? 'th' : 'td');
          if (column === 'label') cell.setAttribute('scope', 'row');
          cell.dataset.col = column;
          text = document.createTextNode('');
          cell.append(text);
          tr.append(cell);
          this.pathCells.set(id, text);
        }
        const shown = String(row[column]);
        if (text.data !== shown) text.data = shown;
      }
    }
  }
}
