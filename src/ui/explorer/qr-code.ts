/**
 * A QR code drawn as SVG elements (for the invitation link, so that a phone can scan it off the
 * screen). The `qrcode` package encodes the text into a matrix of modules; the modules become one
 * SVG path built here with `createElementNS`, never parsed from markup (the UI renders no data as
 * HTML, and the page's Content-Security-Policy refuses inline styles).
 *
 *   "https://…#invite=…" ──qrcode.create──► modules (size × size, 1 = dark)
 *                        ──qrModulesPath──► "M4 4h7v1h-7z M12 4h1v1h-1z …"   (one rectangle per dark run)
 *                        ──renderQrCode──► <svg viewBox="0 0 size+8 size+8"><rect/><path d=…/></svg>
 */
import QRCode from 'qrcode';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The light margin around the code, in modules: the QR specification asks for four. */
export const QUIET_ZONE_MODULES = 4;

/** A square matrix of modules, as `qrcode`'s BitMatrix exposes it: get(row, column) is 1 when dark. */
export interface ModuleMatrix {
  size: number;
  get(row: number, column: number): number;
}

/**
 * The dark modules of `matrix` as an SVG path `d`: one rectangle per horizontal run of dark modules,
 * offset by `margin` modules (one user unit per module). Runs keep the path short (a code of version 6
 * has about 800 dark modules but under 400 runs) and leave no hairline seams between neighbours.
 */
export function qrModulesPath(matrix: ModuleMatrix, margin = QUIET_ZONE_MODULES): string {
  const parts: string[] = [];
  for (let row = 0; row < matrix.size; row++) {
    let column = 0;
    while (column < matrix.size) {
      if (!matrix.get(row, column)) {
        column++;
        continue;
      }
      const start = column;
      while (column < matrix.size && matrix.get(row, column)) column++;
      parts.push(`M${start + margin} ${row + margin}h${column - start}v1h${start - column}z`);
    }
  }
  return parts.join('');
}

/**
 * Draws `text` as a QR code into `svg` (replacing its content): a light square with the dark modules
 * on it, whatever the page's colour scheme, since phone cameras expect dark on light. Error correction
 * level M (15 % of the code may be unreadable: glare on a screen). `label` becomes the image's
 * accessible name. Returns the number of modules per side, margin included. Throws when `text` is too
 * long for any QR code version (about 2,300 characters at level M).
 */
export function renderQrCode(svg: SVGSVGElement, text: string, label: string): number {
  const code = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const side = code.modules.size + 2 * QUIET_ZONE_MODULES;
  svg.setAttribute('viewBox', `0 0 ${side} ${side}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.dataset.modules = String(code.modules.size);
  const background = document.createElementNS(SVG_NS, 'rect');
  background.setAttribute('width', String(side));
  background.setAttribute('height', String(side));
  background.setAttribute('fill', '#ffffff');
  const modules = document.createElementNS(SVG_NS, 'path');
  modules.setAttribute('d', qrModulesPath(code.modules));
  modules.setAttribute('fill', '#000000');
  svg.replaceChildren(background, modules);
  return side;
}
