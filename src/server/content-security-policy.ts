/**
 * The app's Content-Security-Policy (CSP Level 3, https://www.w3.org/TR/CSP3/): only the app's own
 * scripts, styles, workers and connections (the signaling server is on the same origin; WebRTC data
 * channels are not governed by CSP), no plugins, no inline script. A second line of defence behind
 * rendering all data as text: even a string that slipped into the DOM as HTML could not run.
 *
 * Sent as a header by the dev and preview servers (`contentSecurityPolicyPlugin`), and written into the
 * built index.html as a `<meta>` so that a static host serves it too. The dev server also allows inline
 * styles (Vite injects imported CSS as `<style>` elements there) and WebSocket connections (its reload
 * channel); the built app needs neither.
 */
import type { Plugin } from 'vite';

/** The policy of the built app, directive by directive. */
export const BUILD_POLICY: Record<string, string> = {
  'default-src': "'self'",
  'script-src': "'self'",
  'style-src': "'self'",
  'img-src': "'self' data:",
  'connect-src': "'self'",
  'worker-src': "'self'",
  'object-src': "'none'",
  'base-uri': "'none'",
  'form-action': "'self'",
};

/** The policy as one header value; `dev` relaxes what Vite's dev server needs. `frame-ancestors` only works as a header. */
export function contentSecurityPolicy(options: { dev?: boolean; header?: boolean } = {}): string {
  const policy = { ...BUILD_POLICY };
  if (options.dev) {
    policy['style-src'] = "'self' 'unsafe-inline'";
    policy['connect-src'] = "'self' ws: wss:";
  }
  if (options.header) policy['frame-ancestors'] = "'none'";
  return Object.entries(policy)
    .map(([directive, value]) => `${directive} ${value}`)
    .join('; ');
}

/** Vite plugin: the CSP header on every response of the dev and preview servers, and the `<meta>` in built pages. */
export function contentSecurityPolicyPlugin(): Plugin {
  const header = (dev: boolean) => (_req: unknown, res: { setHeader(name: string, value: string): void }, next: () => void) => {
    res.setHeader('Content-Security-Policy', contentSecurityPolicy({ dev, header: true }));
    next();
  };
  return {
    name: 'tabdynamo:content-security-policy',
    configureServer(server) {
      server.middlewares.use(header(true));
    },
    configurePreviewServer(server) {
      server.middlewares.use(header(false));
    },
    transformIndexHtml: {
      order: 'post',
      handler(_html, context) {
        // Built pages only (the dev server sends its relaxed policy as a header).
        if (context.server) return [];
        return [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy() }, injectTo: 'head-prepend' }];
      },
    },
  };
}
