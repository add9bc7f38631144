/**
 * The smallest app on the library: it imports nothing but the package entry `tabdynamo` (package.json
 * `exports`, built by `npm run build:lib`), starts this tab's node against the signaling server of the
 * page's own origin, puts one value and gets it back, and shows what it read and where its Merkle trees
 * (anti-entropy, paper §4.7) are kept: `worker` when the library's worker loaded.
 *
 * Run it: `npm run build:lib`, then `npx vite -c examples/minimal/vite.config.ts` from the repo root.
 * test/e2e/example-minimal.test.ts builds and opens it.
 */
import { DynamoNode, peerClientOptions, type GetResult } from 'tabdynamo';

const KEY = 'greeting';

function show(id: string, text: string): void {
  const element = document.getElementById(id);
  if (element) element.textContent = text;
}

/** The values a get returned (one per sibling; deletes left out), as JSON text. */
function describe(result: GetResult): string {
  const values = result.siblings.filter((sibling) => !sibling.deleted).map((sibling) => sibling.value);
  return values.length === 0 ? '(absent)' : values.map((value) => JSON.stringify(value)).join(' | ');
}

async function main(): Promise<void> {
  // One tab is a whole cluster here, so one replica is enough (N = R = W = 1); tabs of the same cluster
  // opened later join it. Storage is IndexedDB (the default): the data survives a reload.
  const node = await DynamoNode.start({ cluster: 'example', n: 1, r: 1, w: 1, signaling: peerClientOptions(location) });
  show('node', node.id);
  // Read, then write with the context of that read: the new value replaces what was read instead of
  // becoming a sibling of it (paper §4.4). A reload of this page does the same again.
  const before = await node.get(KEY);
  await node.put(KEY, { text: 'hello from tabdynamo' }, { context: before.context });
  show('result', describe(await node.get(KEY)));
  show('merkle', (await node.merkleTrees()).backend);
}

main().catch((error: unknown) => {
  show('result', `failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  console.error(error);
});
