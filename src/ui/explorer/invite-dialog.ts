/**
 * The Invite button of the header and the dialog it opens: this cluster's invitation link (which
 * carries the cluster secret in its fragment, issue 16) in a read-only field, a Copy button and a QR
 * code of the link for a phone. A modal `<dialog>`: focus moves into it, stays there, and goes back to
 * the Invite button when it closes (Escape, the Close button, or a click beside it).
 *
 *   [Invite] ──► ┌ Invite someone to this cluster ─────────── [Close] ┐
 *                │ Anyone with this link can join …                    │
 *                │ Invitation link [https://…#invite=…      ] [Copy]   │
 *                │ ▓▓ QR ▓▓  Scan it with a phone's camera …           │
 *                └─────────────────────────────────────────────────────┘
 */
import { renderQrCode } from './qr-code.js';

/** How long "Copied" stays shown after a copy, ms. */
export const COPIED_SHOWN_MS = 4000;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export class InviteDialog {
  /** The header's Invite button. */
  readonly button: HTMLButtonElement;
  private readonly dialog: HTMLDialogElement;
  private readonly field: HTMLInputElement;
  private readonly copyButton: HTMLButtonElement;
  private readonly copyResult: HTMLElement;
  private readonly qr: SVGSVGElement;
  private readonly qrError: HTMLElement;
  private copiedTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Puts the Invite button after `after` (in the header's actions) and the dialog at the end of the
   * page. `link` gives the invitation link each time the dialog opens (`node.invitation()`); `cluster`
   * is the cluster's name, shown in the title.
   */
  constructor(
    after: Element,
    private readonly cluster: string,
    private readonly link: () => string,
  ) {
    this.button = el('button', 'Invite', 'secondary');
    this.button.type = 'button';
    this.button.id = 'invite-open';
    this.button.setAttribute('aria-haspopup', 'dialog');
    this.button.setAttribute('aria-controls', 'invite-dialog');
    this.button.setAttribute('aria-expanded', 'false');
    this.button.title = 'Show the link that lets another browser or a phone join this cluster';
    after.after(this.button);

    this.dialog = el('dialog', undefined, 'invite-dialog');
    this.dialog.id = 'invite-dialog';
    this.dialog.setAttribute('aria-labelledby', 'invite-title');
    this.dialog.setAttribute('aria-describedby', 'invite-warning');

    const head = el('div', undefined, 'invite-head');
    const title = el('h2', `Invite someone to “${cluster}”`);
    title.id = 'invite-title';
    const close = el('button', 'Close', 'secondary small');
    close.type = 'button';
    close.id = 'invite-close';
    close.addEventListener('click', () => this.close());
    head.append(title, close);

    const warning = el(
      'p',
      'Anyone with this link can join this cluster and read and write all of its data. Share it only with people you trust, over a private channel.',
      'invite-warning',
    );
    warning.id = 'invite-warning';

    const label = el('label', 'Invitation link', 'invite-label');
    label.htmlFor = 'invite-link';
    const row = el('div', undefined, 'invite-row');
    this.field = el('input');
    this.field.id = 'invite-link';
    this.field.readOnly = true;
    this.field.spellcheck = false;
    this.field.autocomplete = 'off';
    this.field.addEventListener('focus', () => this.field.select());
    this.copyButton = el('button', 'Copy');
    this.copyButton.type = 'button';
    this.copyButton.id = 'invite-copy';
    this.copyButton.autofocus = true;
    this.copyButton.addEventListener('click', () => void this.copy());
    row.append(this.field, this.copyButton);
    this.copyResult = el('p', '', 'result invite-copy-result');
    this.copyResult.id = 'invite-copy-result';
    this.copyResult.setAttribute('role', 'status');

    const figure = el('figure', undefined, 'invite-qr');
    this.qr = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.qr.id = 'invite-qr';
    this.qrError = el('p', '', 'result');
    this.qrError.dataset.state = 'error';
    this.qrError.hidden = true;
    const caption = el('figcaption', 'Scan it with a phone’s camera to open this cluster there. The phone’s tab becomes a node of the cluster.');
    figure.append(this.qr, this.qrError, caption);

    this.dialog.append(head, warning, label, row, this.copyResult, figure);
    document.body.append(this.dialog);

    this.button.addEventListener('click', () => this.open());
    // Escape closes a modal dialog by itself ('cancel', then 'close'); a click on the backdrop (the
    // dialog element itself, outside its content box) closes it too.
    this.dialog.addEventListener('click', (event) => {
      if (event.target !== this.dialog) return;
      const box = this.dialog.getBoundingClientRect();
      const inside = event.clientX >= box.left && event.clientX <= box.right && event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) this.close();
    });
    this.dialog.addEventListener('close', () => {
      this.button.setAttribute('aria-expanded', 'false');
      this.button.focus();
    });
  }

  /** Opens the dialog with the current invitation link. */
  open(): void {
    const link = this.link();
    this.field.value = link;
    this.showCopyResult('', undefined);
    try {
      renderQrCode(this.qr, link, `QR code of the invitation link to the cluster ${this.cluster}`);
      this.qr.removeAttribute('hidden');
      this.qrError.hidden = true;
    } catch (error) {
      // Only a link longer than any QR code holds gets here; the link above still works.
      // SVG elements have no `hidden` property; the attribute works through the page's [hidden] rule.
      this.qr.setAttribute('hidden', '');
      this.qrError.hidden = false;
      this.qrError.textContent = `No QR code: ${(error as Error).message}`;
    }
    if (!this.dialog.open) this.dialog.showModal();
    this.button.setAttribute('aria-expanded', 'true');
  }

  close(): void {
    if (this.dialog.open) this.dialog.close();
  }

  /**
   * Copies the link to the clipboard. When the browser refuses (no permission, or no Clipboard API
   * on a page not served over HTTPS or localhost), the link is selected instead, ready for Ctrl+C.
   */
  private async copy(): Promise<void> {
    const link = this.field.value;
    try {
      if (navigator.clipboard === undefined) throw new Error('no clipboard on this page');
      await navigator.clipboard.writeText(link);
      this.showCopyResult('Copied to the clipboard.', 'ok');
      clearTimeout(this.copiedTimer);
      this.copiedTimer = setTimeout(() => this.showCopyResult('', undefined), COPIED_SHOWN_MS);
    } catch {
      this.field.focus();
      this.field.select();
      this.showCopyResult('The browser did not allow copying: the link is selected, copy it with Ctrl+C (⌘C on a Mac).', 'error');
    }
  }

  private showCopyResult(text: string, state: 'ok' | 'error' | undefined): void {
    this.copyResult.textContent = text;
    if (state === undefined) delete this.copyResult.dataset.state;
    else this.copyResult.dataset.state = state;
    if (state === 'ok') this.copyButton.textContent = 'Copied';
    else this.copyButton.textContent = 'Copy';
  }
}
