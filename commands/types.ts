/**
 * How a slash command is declared, once for every platform: its name, description, typed options
 * with limits, and the handler. Discord registration, Slack's `key:value` parsing, the usage lines
 * (kit/usage.ts) and the playground's command box are all generated from these declarations.
 */
import type { CommandContext } from './kit/types';

interface OptionBase {
  name: string;
  description: string;
  required?: boolean;
}
export interface IntegerOption extends OptionBase {
  type: 'integer';
  min: number;
  max: number;
  default?: number;
}
export interface StringOption extends OptionBase {
  type: 'string';
  minLength?: number;
  maxLength: number;
  /** How the value looks in the usage line (default `<text>`): `@a @b …` for a list of people. */
  placeholder?: string;
}
export interface ChoiceOption extends OptionBase {
  type: 'choice';
  choices: readonly string[];
  default?: string;
}
export interface UserOption extends OptionBase {
  type: 'user';
}
export type OptionSpec = IntegerOption | StringOption | ChoiceOption | UserOption;

/** What a command file writes; defineCommand (kit/usage.ts) adds the usage line. */
export interface CommandDeclaration {
  name: string;
  description: string;
  options: readonly OptionSpec[];
  /** Answers only the invoker (help, profile, cancel): platforms that must acknowledge first acknowledge privately. */
  private?: boolean;
  execute(ctx: CommandContext): Promise<void>;
}

export interface CommandDefinition extends CommandDeclaration {
  /** One line of usage, shown with input errors: `/rate [count:1-10]`. Generated from the options. */
  readonly usage: string;
}
