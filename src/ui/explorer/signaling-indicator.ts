/**
 * The header's signaling server indicator and the first-contact notice, updated in place: their text
 * nodes and `data-state` are rewritten only when they changed (a countdown changes its text once a
 * second).
 */
import type { ServerIndicator } from './signaling-model.js';

export class SignalingIndicator {
  private readonly headline: Text;
  private readonly detail: Text;
  private readonly detailBox: HTMLElement;
  private readonly noticeText: Text;

  /**
   * `box` gets the indicator ("Signaling server: …" and its detail); `notice` is the first-contact
   * notice, hidden while there is none.
   */
  constructor(
    private readonly box: HTMLElement,
    private readonly notice: HTMLElement,
  ) {
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = 'Signaling server: ';
    const dot = document.createElement('span');
    dot.className = 'dot';
    dot.setAttribute('aria-hidden', 'true');
    const headlineBox = document.createElement('span');
    headlineBox.className = 'headline';
    headlineBox.dataset.field = 'headline';
    this.headline = document.createTextNode('');
    headlineBox.append(this.headline);
    this.detailBox = document.createElement('span');
    this.detailBox.className = 'detail';
    this.detailBox.dataset.field = 'detail';
    this.detail = document.createTextNode('');
    this.detailBox.append(this.detail);
    box.replaceChildren(dot, label, headlineBox, this.detailBox);
    this.noticeText = document.createTextNode('');
    notice.replaceChildren(this.noticeText);
  }

  /**
   * Shows the server's state (`describeServer` in signaling-model.ts) and the first-contact notice
   * (`firstContactNotice`; undefined: none).
   */
  show(shown: ServerIndicator, notice: string | undefined): void {
    if (this.box.dataset.state !== shown.state) this.box.dataset.state = shown.state;
    if (this.headline.data !== shown.headline) this.headline.data = shown.headline;
    const detail = shown.detail === '' ? '' : `. ${shown.detail}`;
    if (this.detail.data !== detail) this.detail.data = detail;
    if (this.notice.hidden !== (notice === undefined)) this.notice.hidden = notice === undefined;
    if (notice !== undefined && this.noticeText.data !== notice) this.noticeText.data = notice;
  }
}
