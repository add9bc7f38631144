/**
 * tabdynamo's side of `npm run bench:peers` (bench/peers-bench.ts): the app's tab without its page. The
 * node starts from the address exactly as the app starts it (`nodeOptionsFromUrl`: cluster, (N,R,W),
 * invitation, signaling at the page's origin), through the public API, and is exposed as
 * `window.dynamo` (the console API, src/ui/console-api.ts), so the driver works on this page and on the
 * app's own tabs (`PEERS_BENCH_OURS=app`) alike. No explorer is drawn and no notes service runs: the
 * Yjs tab it is compared with has no page either, so neither side's figures carry UI work.
 */
import { DynamoNode } from '../src/index.js';
import { consoleApi, exposeStartError } from '../src/ui/console-api.js';
import { forgetInvitation, nodeOptionsFromUrl } from '../src/ui/url-config.js';

async function startNode(): Promise<void> {
  const options = nodeOptionsFromUrl(location);
  const node = await DynamoNode.start(options);
  forgetInvitation(location, history);
  window.addEventListener('pagehide', () => void node.close());
  window.dynamo = consoleApi(node, options.cluster);
}

startNode().catch((error: unknown) => exposeStartError(window, error instanceof Error ? error : new Error(String(error))));
