/**
 * How a slash command is declared, once for every platform: its name, description, typed options
 * with limits, and the handler. Discord registration, Slack's `key:value` parsing and the
 * playground's command box are all generated from these declarations.
 */
import type { CommandContext } from '../src/platforms/types';

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

export interface CommandDefinition {
  name: string;
  description: string;
  options: readonly OptionSpec[];
  /** One line of usage, shown with input errors: `/rate [count:1-10]`. */
  usage: string;
  /** Answers only the invoker (help, profile, cancel): platforms that must acknowledge first acknowledge privately. */
  private?: boolean;
  execute(ctx: CommandContext): Promise<void>;
}
