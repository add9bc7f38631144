/**
 * The QR code's modules as an SVG path (src/ui/explorer/qr-code.ts): every dark module of the matrix,
 * and only those, is covered by the path, offset by the quiet zone; checked on small matrices and on
 * the matrix `qrcode` makes for an invitation link.
 */
import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { qrModulesPath, QUIET_ZONE_MODULES, type ModuleMatrix } from '../../../../src/ui/explorer/qr-code.js';

/** A matrix from rows of '#' (dark) and '.' (light). */
function matrix(rows: string[]): ModuleMatrix {
  return { size: rows.length, get: (row, column) => (rows[row]![column] === '#' ? 1 : 0) };
}

/** The cells the path covers: each subpath is `M x y h w v 1 h -w z`, one run of one row. */
function covered(d: string): Set<string> {
  const cells = new Set<string>();
  for (const [, x, y, w, back] of d.matchAll(/M(\d+) (\d+)h(\d+)v1h(-\d+)z/g)) {
    expect(Number(back)).toBe(-Number(w));
    for (let i = 0; i < Number(w); i++) {
      const cell = `${Number(x) + i},${y}`;
      expect(cells.has(cell)).toBe(false);
      cells.add(cell);
    }
  }
  // Nothing in the path but runs.
  expect(d.replace(/M\d+ \d+h\d+v1h-\d+z/g, '')).toBe('');
  return cells;
}

function darkCells(m: ModuleMatrix, margin: number): Set<string> {
  const cells = new Set<string>();
  for (let row = 0; row < m.size; row++) for (let column = 0; column < m.size; column++) if (m.get(row, column)) cells.add(`${column + margin},${row + margin}`);
  return cells;
}

describe('qrModulesPath', () => {
  it('draws one rectangle per horizontal run of dark modules, offset by the margin', () => {
    expect(qrModulesPath(matrix(['##.', '.#.', '###']), 0)).toBe('M0 0h2v1h-2zM1 1h1v1h-1zM0 2h3v1h-3z');
    expect(qrModulesPath(matrix(['#.#', '...', '..#']), 4)).toBe('M4 4h1v1h-1zM6 4h1v1h-1zM6 6h1v1h-1z');
  });

  it('draws nothing for an all-light matrix', () => {
    expect(qrModulesPath(matrix(['...', '...', '...']))).toBe('');
  });

  it('covers exactly the dark modules of a real invitation link, inside the quiet zone', () => {
    const link = 'http://127.0.0.1:4173/?cluster=team-notes#invite=q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1C';
    const code = QRCode.create(link, { errorCorrectionLevel: 'M' });
    const d = qrModulesPath(code.modules);
    expect(covered(d)).toEqual(darkCells(code.modules, QUIET_ZONE_MODULES));
    // Fewer runs than dark modules: the path stays short.
    expect(d.split('M').length - 1).toBeLessThan(darkCells(code.modules, 0).size);
  });
});
