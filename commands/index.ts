/** Every slash command, in the order platforms list them. */
import { cancel } from './cancel';
import { compare } from './compare';
import { help } from './help';
import { optimize } from './optimize';
import { privacy } from './privacy';
import { profile } from './profile';
import { rate } from './rate';
import { suggest } from './suggest';
import type { CommandDefinition } from './types';

export const COMMANDS: readonly CommandDefinition[] = [rate, optimize, cancel, profile, suggest, compare, privacy, help];

export function findCommand(name: string): CommandDefinition | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export type { CommandDefinition } from './types';
