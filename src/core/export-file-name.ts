/**
 * The name a person's data export is saved under: `tasteloop-<name>-<YYYY-MM-DD>.json`, so a download
 * folder shows whose export it is and from when (the platform and user id are inside the file).
 */
import type { PersonRef } from './identity';

/** Longest name part, in characters: a display name can be long, a file name should not be. */
const MAX_NAME_CHARS = 40;

/** `exportedAt` is the export's ISO time; its UTC date is the one in the name. */
export function exportFileName(person: PersonRef, exportedAt: string): string {
  return `tasteloop-${namePart(person)}-${exportedAt.slice(0, 10)}.json`;
}

/** Lower-case letters of any script and digits, words joined by "-"; the user id when the name has none. */
function namePart(person: PersonRef): string {
  for (const candidate of [person.displayName, person.userId]) {
    const words = (candidate ?? '')
      .normalize('NFC')
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter(Boolean);
    const joined = Array.from(words.join('-')).slice(0, MAX_NAME_CHARS).join('').replace(/-+$/, '');
    if (joined) return joined;
  }
  return 'export';
}
