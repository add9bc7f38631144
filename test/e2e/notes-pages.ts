/**
 * Page helpers of the notes demo's end-to-end tests (notes.test.ts, notes-offline.test.ts): create,
 * open and edit a note through the page as a user would, and read a note's state from the tab's notes
 * service.
 */
import type { Page } from 'playwright-core';
import { waitFor } from './fixtures.js';

/** A note's state as the tab's notes service holds it (undefined: the tab does not know the note). */
export interface NoteView {
  sync: string;
  titles: string[];
  bodies: string[];
  deletions: number;
  deleted: boolean;
  /** Shown from this browser's cache of notes seen (not read from the cluster since the page opened). */
  cached: boolean;
}

/** The note's state as the tab's notes service holds it. */
export function noteState(tab: { page: Page }, id: string): Promise<NoteView | undefined> {
  return tab.page.evaluate((noteId) => {
    const note = window.dynamoNotes!.note(noteId);
    return note && { sync: note.sync, titles: note.versions.map((v) => v.title), bodies: note.versions.map((v) => v.body), deletions: note.deletions.length, deleted: note.deleted, cached: note.cached };
  }, id);
}

/** Creates a note through the page (New note, type, Save) and returns its id from the URL. */
export async function createNote(page: Page, title: string, body: string): Promise<string> {
  await page.getByRole('button', { name: 'New note' }).click();
  await waitFor('an empty editor for the new note', async () => (await page.locator('#note-heading').textContent()) === 'New note' && (await page.locator('#note-title').inputValue()) === '');
  await page.getByLabel('Title', { exact: true }).first().fill(title);
  await page.getByLabel('Text', { exact: true }).first().fill(body);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  try {
    return await waitFor('the new note’s id in the URL', async () => {
      const id = await page.evaluate(() => /^#\/notes\/([a-z0-9]+)$/.exec(location.hash)?.[1]);
      return id !== 'new' && id;
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}; the page says: “${await page.locator('#note-error').textContent()}” / “${await page.locator('#note-state').textContent()}”`, { cause: error });
  }
}

/** Opens note `id` in the editor (or its conflict view). */
export async function openNote(page: Page, id: string): Promise<void> {
  await page.evaluate((noteId) => (location.hash = `#/notes/${noteId}`), id);
  await waitFor(
    'the note in the editor',
    async () => (await page.locator(`#notes-view[data-selected="${id}"]`).count()) === 1 && ((await page.locator('#note-form').isVisible()) || (await page.locator('#conflict').isVisible())),
  );
}

/** Replaces the open note's text and saves. */
export async function editNote(page: Page, body: string): Promise<void> {
  await page.locator('#note-body').fill(body);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
}
