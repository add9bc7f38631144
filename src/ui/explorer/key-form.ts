/**
 * The explorer's key panel (index.html `#kv-form`): the key lookup and the put / get / delete form.
 *
 * The lookup shows where the typed key lies (paper §4.2): its MD5 position on the ring, its partition,
 * its preference list with each node's reachability, and, on the ring, the key and the partitions of its
 * N replicas. The form runs the node's get, put and delete; a put or delete carries the context of the
 * last get of that key (§4.4), so that it supersedes what was read instead of becoming a sibling.
 */
import { keyPosition, type DynamoNode, type GetResult, type Ring } from '../../index.js';
import { byId } from '../dom.js';
import { seenFrom, type SeenFrom } from '../node-snapshot.js';
import type { RenderJob } from '../render-scheduler.js';
import { nodeColours, renderSiblings } from '../views.js';
import { renderKey, type KeyInfo } from './panels.js';
import { PatchedPanel } from './patch.js';
import type { RingView } from './ring-view.js';

/** The part of the node the key panel uses. */
export type KeyFormNode = Pick<DynamoNode, 'id' | 'connected' | 'peerHealth' | 'members' | 'ring' | 'preferenceList' | 'config' | 'get' | 'put' | 'delete'>;

/** The key lookup and the put / get / delete form (see the module comment). */
export class KeyForm {
  private readonly keyInput = byId<HTMLInputElement>('key');
  private readonly valueInput = byId<HTMLTextAreaElement>('value');
  private readonly result = byId('kv-result');
  private readonly lookup = new PatchedPanel(byId('key-lookup'));
  /** The context of the last get or write of each key (what the next put or delete of it carries). */
  private readonly contexts = new Map<string, string>();
  private readonly n: number;

  /** Wires the form; the lookup is drawn into `ringView` too (the key's position and its replicas). */
  constructor(
    private readonly node: KeyFormNode,
    private readonly ringView: RingView,
  ) {
    this.n = node.config().n;
    this.keyInput.addEventListener('input', () => this.refresh());
    byId<HTMLFormElement>('kv-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const op = ((event as SubmitEvent).submitter as HTMLButtonElement | null)?.dataset.op ?? 'get';
      void this.run(op, this.keyInput.value);
    });
  }

  /**
   * Redraws the lookup of the typed key: its MD5 position, partition and preference list, with
   * reachability (`seen`) and node colours (`colours`; both read afresh when not given).
   */
  refresh(colours: ReadonlyMap<string, string> = nodeColours(this.node.members()), seen: SeenFrom = seenFrom(this.node)): void {
    this.job(colours, seen).draw();
  }

  /**
   * The lookup as a part of a redraw (render-scheduler.ts): its key sums up what it shows (the typed
   * key, its preference list with each node's reachability and colour), its draw redraws it.
   */
  job(colours: ReadonlyMap<string, string>, seen: SeenFrom): RenderJob {
    const key = this.keyInput.value;
    if (key === '') {
      return {
        what: 'key',
        key: 'none',
        draw: () => {
          this.lookup.patchIfChanged('none', (box) => renderKey(box, undefined, colours, seen));
          this.ringView.showKey(undefined);
        },
      };
    }
    try {
      const ring = this.node.ring();
      const list = this.node.preferenceList(key);
      const position = keyPosition(key);
      const partition = ring.partitionOfKey(key);
      const info: KeyInfo = {
        key,
        positionHex: position.toString(16).padStart(32, '0'),
        partition,
        degrees: (Number(position) / 2 ** 128) * 360,
        preferenceList: list,
        n: this.n,
      };
      const signature = JSON.stringify([info, list.map(seen), list.map((id) => colours.get(id))]);
      return {
        what: 'key',
        key: signature,
        draw: () => {
          this.lookup.patchIfChanged(signature, (box) => renderKey(box, info, colours, seen));
          this.ringView.showKey({ position, partition, replicaPartitions: replicaPartitions(ring, partition, Math.min(this.n, list.length)) });
        },
      };
    } catch (error) {
      const message = (error as Error).message;
      return {
        what: 'key',
        key: `error:${message}`,
        draw: () => {
          this.lookup.patchIfChanged(`error:${message}`, (box) => renderKey(box, { error: message }, colours, seen));
          this.ringView.showKey(undefined);
        },
      };
    }
  }

  /** Runs `op` ('get', 'put' or 'delete') on `key` and shows the outcome (or the error's name and message). */
  private async run(op: string, key: string): Promise<void> {
    const result = this.result;
    result.dataset.state = 'busy';
    result.textContent = `${op}…`;
    try {
      if (op === 'get') {
        const got: GetResult = await this.node.get(key);
        this.contexts.set(key, got.context);
        renderSiblings(byId('siblings'), got.siblings);
        byId('clock').textContent = got.clock.length === 0 ? '' : `vector clock: ${got.clock.map((e) => `${e.node}:${e.counter}`).join(', ')}`;
        result.textContent = got.siblings.length === 0 ? `“${key}” not found (answered by ${got.answeredBy.join(', ')})` : `${got.siblings.length} version${got.siblings.length === 1 ? '' : 's'} of “${key}” (answered by ${got.answeredBy.join(', ')})`;
      } else {
        const context = this.contexts.get(key);
        const options = context !== undefined ? { context } : {};
        const written = op === 'put' ? await this.node.put(key, parseValue(this.valueInput.value), options) : await this.node.delete(key, options);
        this.contexts.set(key, written.context);
        result.textContent = `${op === 'put' ? 'stored' : 'deleted'} “${key}” as ${written.version.node}:${written.version.counter} (${written.acks} acks)`;
      }
      result.dataset.state = 'ok';
    } catch (error) {
      result.dataset.state = 'error';
      const err = error as Error;
      result.textContent = `${err.name}: ${err.message}`;
    }
  }
}

/** The replicas' partitions of a key in `partition`: walking clockwise from it, the first partition of each of `count` owners met. */
function replicaPartitions(ring: Ring, partition: number, count: number): number[] {
  const found: number[] = [];
  const met = new Set<string>();
  const owners = ring.owners();
  for (let step = 0; step < ring.partitionCount && met.size < count; step++) {
    const p = (partition + step) % ring.partitionCount;
    const owner = owners[p];
    if (owner !== undefined && !met.has(owner)) {
      met.add(owner);
      found.push(p);
    }
  }
  return found;
}

/** The value to store from the form's text: JSON when it parses, else the text itself. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
