/**
 * The header's signaling server indicator and the first-contact notice, updated in place: their text
 * nodes and `data-state` are rewritten only when they changed (the header is redrawn with every redraw,
 * on both views; a countdown changes its text once a second).
 */
import { describeServer, firstContactNotice, type ServerIndicator } from './signaling-model.js';
import type { SignalingStatus } from '../../index.js';

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

  /** Shows `status`; returns what it showed (the caller keeps a countdown ticking while it runs). */
  update(status: SignalingStatus, openPeers: number, nowMs: number): ServerIndicator {
    const shown = describeServer(status, openPeers, nowMs);
    if (this.box.dataset.state !== shown.state) this.box.dataset.state = shown.state;
    if (this.headline.data !== shown.headline) this.headline.data = shown.headline;
    const detail = shown.detail === '' ? '' : `. ${shown.detail}`;
    if (this.detail.data !== detail) this.detail.data = detail;
    const notice = firstContactNotice(status);
    if (this.notice.hidden !== (notice === undefined)) this.notice.hidden = notice === undefined;
    if (notice !== undefined && this.noticeText.data !== notice) this.noticeText.data = notice;
    return shown;
  }
}
