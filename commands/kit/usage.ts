/**
 * A command's one line of usage, written from its declared options so the two cannot drift apart:
 * `/rate [count:1-10]`, `/optimize prompt:<text> [iterations:1-10] …`. Shown with input errors, in
 * Slack's usage hints and in the playground's command box.
 */
import type { CommandDeclaration, CommandDefinition, OptionSpec } from '../types';

export function usageOf(name: string, options: readonly OptionSpec[]): string {
  return [`/${name}`, ...options.map(optionUsage)].join(' ');
}

/** A command as platforms register it: the declaration with its generated usage. */
export function defineCommand(declaration: CommandDeclaration): CommandDefinition {
  return { ...declaration, usage: usageOf(declaration.name, declaration.options) };
}

function optionUsage(spec: OptionSpec): string {
  const form = `${spec.name}:${valueForm(spec)}`;
  return spec.required ? form : `[${form}]`;
}

function valueForm(spec: OptionSpec): string {
  switch (spec.type) {
    case 'integer':
      return `${spec.min}-${spec.max}`;
    case 'string':
      return spec.placeholder ?? '<text>';
    case 'choice':
      return spec.choices.join('|');
    case 'user':
      return '@someone';
  }
}
