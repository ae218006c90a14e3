/**
 * A person is identified by platform + platform user id, plus the Slack workspace (Slack user ids are
 * unique only per workspace). Their taste follows them across servers of the same platform.
 */
import { createHash } from 'node:crypto';

/** 'import': a rater from a dataset brought in with `npm run import:ratings`, never a chat account. */
export type Platform = 'discord' | 'slack' | 'playground' | 'synthetic' | 'import';

export interface PersonRef {
  platform: Platform;
  /** Slack team id (for 'import': the dataset's name); omitted for Discord (global user ids) and the playground. */
  workspaceId?: string;
  userId: string;
  displayName?: string;
}

export type UserKey = string;

export function userKeyOf(p: PersonRef): UserKey {
  // Rater ids of an imported dataset are unique only within it, as Slack ids are within a workspace.
  const ws = p.platform === 'slack' || p.platform === 'import' ? (p.workspaceId ?? '-') : '-';
  return `${p.platform}:${ws}:${p.userId}`;
}

export function parseUserKey(key: UserKey): PersonRef {
  const [platform, ws, ...rest] = key.split(':');
  return { platform: platform as Platform, workspaceId: ws === '-' ? undefined : ws, userId: rest.join(':') };
}

/** Stored for forgotten people instead of their key, so late events can be dropped without keeping the key. */
export function hashUserKey(key: UserKey): string {
  return createHash('sha256').update(`tasteloop-forget:${key}`).digest('hex');
}
