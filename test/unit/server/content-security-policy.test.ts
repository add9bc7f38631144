import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, contentSecurityPolicyPlugin } from '../../../src/server/content-security-policy.js';

describe('content security policy', () => {
  it('allows only the app’s own scripts, styles and connections in the build, with no inline script or plugins', () => {
    const policy = contentSecurityPolicy();
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("style-src 'self'");
    expect(policy).toContain("object-src 'none'");
    expect(policy).not.toContain('unsafe');
    expect(policy).not.toContain('frame-ancestors'); // ignored in a <meta>
    expect(contentSecurityPolicy({ header: true })).toContain("frame-ancestors 'none'");
  });

  it('relaxes only styles and the reload socket for the dev server', () => {
    const dev = contentSecurityPolicy({ dev: true });
    expect(dev).toContain("style-src 'self' 'unsafe-inline'");
    expect(dev).toContain("connect-src 'self' ws: wss:");
    expect(dev).toContain("script-src 'self';");
  });

  it('writes the policy into built pages only', () => {
    const plugin = contentSecurityPolicyPlugin();
    const hook = plugin.transformIndexHtml as { handler: (html: string, context: { server?: unknown }) => unknown };
    expect(hook.handler('<html></html>', {})).toEqual([{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy() }, injectTo: 'head-prepend' }]);
    expect(hook.handler('<html></html>', { server: {} })).toEqual([]);
  });
});
