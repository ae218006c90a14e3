/** The shared command declarations (commands/) as Discord application commands. Pure. */
import { ApplicationCommandOptionType, ApplicationCommandType, type RESTPutAPIApplicationCommandsJSONBody } from 'discord.js';
import type { CommandDefinition, OptionSpec } from '../../../commands/types';

export function toDiscordCommands(defs: readonly CommandDefinition[]): RESTPutAPIApplicationCommandsJSONBody {
  return defs.map((d) => ({
    type: ApplicationCommandType.ChatInput,
    name: d.name,
    description: d.description.slice(0, 100),
    // Required options must come first on Discord.
    options: [...d.options].sort((a, b) => Number(Boolean(b.required)) - Number(Boolean(a.required))).map(toOption),
  }));
}

function toOption(o: OptionSpec) {
  const base = { name: o.name, description: o.description.slice(0, 100), required: Boolean(o.required) };
  switch (o.type) {
    case 'integer':
      return { ...base, type: ApplicationCommandOptionType.Integer as const, min_value: o.min, max_value: o.max };
    case 'string':
      return {
        ...base,
        type: ApplicationCommandOptionType.String as const,
        max_length: o.maxLength,
        ...(o.minLength ? { min_length: o.minLength } : {}),
      };
    case 'choice':
      return { ...base, type: ApplicationCommandOptionType.String as const, choices: o.choices.map((c) => ({ name: c, value: c })) };
    case 'user':
      return { ...base, type: ApplicationCommandOptionType.User as const };
  }
}
