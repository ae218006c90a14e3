/**
 * The names a data export is saved under: readable (`tasteloop-<name>-<date>.json`), safe on every
 * file system and in a URL, and sent to browsers with `filename*` when the name is not plain ASCII.
 */
import { describe, expect, it } from 'vitest';
import { exportFileName } from '../src/core/export-file-name';
import { contentDisposition, safeFileName } from '../src/platforms/playground/files';

const AT = '2026-12-05T23:59:00.000Z';

describe('exportFileName', () => {
  it('names the person by their display name and the export by its UTC day', () => {
    expect(exportFileName({ platform: 'playground', userId: 'alice', displayName: 'Alice' }, AT)).toBe('tasteloop-alice-2026-12-05.json');
    expect(exportFileName({ platform: 'discord', userId: '80351110224678912', displayName: 'Zoë Brontë' }, AT)).toBe(
      'tasteloop-zoë-brontë-2026-12-05.json',
    );
  });

  it('keeps only letters and digits of the name, and falls back to the user id, then to "export"', () => {
    expect(exportFileName({ platform: 'slack', userId: 'U024BE7LH', displayName: '../../etc/passwd "x"' }, AT)).toBe(
      'tasteloop-etc-passwd-x-2026-12-05.json',
    );
    expect(exportFileName({ platform: 'slack', userId: 'U024BE7LH', displayName: '🎨🎨' }, AT)).toBe('tasteloop-u024be7lh-2026-12-05.json');
    expect(exportFileName({ platform: 'slack', userId: '', displayName: '' }, AT)).toBe('tasteloop-export-2026-12-05.json');
    const long = exportFileName({ platform: 'discord', userId: '1', displayName: 'a'.repeat(200) }, AT);
    expect(long).toBe(`tasteloop-${'a'.repeat(40)}-2026-12-05.json`);
  });
});

describe('a served file name', () => {
  it('keeps letters of any script, and nothing that makes a path, a hidden file or a header break', () => {
    expect(safeFileName('tasteloop-zoë-2026-12-05.json')).toBe('tasteloop-zoë-2026-12-05.json');
    expect(safeFileName('../secret"; x=y.json')).toBe('secret_x_y.json');
    expect(safeFileName('.hidden')).toBe('hidden');
    expect(safeFileName('')).toBe('file');
  });

  it('is sent as filename="…" when ASCII, and with filename*=UTF-8 plus an ASCII stand-in otherwise', () => {
    expect(contentDisposition('attachment', 'tasteloop-alice-2026-12-05.json')).toBe(
      'attachment; filename="tasteloop-alice-2026-12-05.json"',
    );
    expect(contentDisposition('attachment', 'tasteloop-zoë-2026-12-05.json')).toBe(
      `attachment; filename="tasteloop-zoe-2026-12-05.json"; filename*=UTF-8''tasteloop-zo%C3%AB-2026-12-05.json`,
    );
    expect(contentDisposition('inline', '日本.png')).toBe(`inline; filename="_.png"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.png`);
  });
});
