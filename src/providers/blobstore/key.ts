/** The naming both blob stores share: ids are sha256 hex, spread over 256 prefixes by their first two characters. */
import { UnknownImageError } from '../../core/errors';

const ID_PATTERN = /^[0-9a-f]{64}$/;

/** Only a sha256 id may become a file name or an object key: anything else could reach outside the store. */
export function assertImageKeyId(id: string): void {
  if (!ID_PATTERN.test(id)) throw new UnknownImageError(id);
}

/** `images/<id[0..2]>/<id>.png`: the same layout as the directory store, under one prefix of the bucket. */
export function imageObjectKey(id: string): string {
  assertImageKeyId(id);
  return `images/${id.slice(0, 2)}/${id}.png`;
}
