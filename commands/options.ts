/**
 * Option handling shared by all platforms: validation of raw values against a command's declared
 * options (platforms like the fake Discord or Slack text do not enforce limits), and parsing of
 * `/optimize prompt:a red fox iterations:3` text (Slack and the playground).
 */
import type { PersonRef } from '../src/core/identity';
import { CommandInputError } from '../src/core/errors';
import type { CommandOptions, OptionValue } from './kit/types';
import type { CommandDefinition, OptionSpec } from './types';

export type RawOptions = Record<string, OptionValue | undefined>;

/** Checks and converts raw option values; throws CommandInputError naming the option and its limits. */
export function validateOptions(def: CommandDefinition, raw: RawOptions): CommandOptions {
  const out: CommandOptions = {};
  for (const name of Object.keys(raw)) {
    if (raw[name] !== undefined && !def.options.some((o) => o.name === name)) throw unknownOption(def, name);
  }
  for (const spec of def.options) {
    const value = raw[spec.name];
    if (value === undefined || value === '') {
      if (spec.required) throw new CommandInputError(`/${def.name} needs ${spec.name}: ${spec.description.toLowerCase()}.`, def.usage);
      if ('default' in spec && spec.default !== undefined) out[spec.name] = spec.default;
      continue;
    }
    out[spec.name] = convert(def, spec, value);
  }
  return out;
}

function convert(def: CommandDefinition, spec: OptionSpec, value: OptionValue): OptionValue {
  const bad = (why: string) => new CommandInputError(`${spec.name} ${why}.`, def.usage);
  switch (spec.type) {
    case 'integer': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
      if (!Number.isInteger(n)) throw bad(`must be a whole number from ${spec.min} to ${spec.max}`);
      if (n < spec.min || n > spec.max) throw bad(`must be from ${spec.min} to ${spec.max} (got ${n})`);
      return n;
    }
    case 'string': {
      if (typeof value !== 'string') throw bad('must be text');
      const t = value.trim();
      if (t.length < (spec.minLength ?? 1)) throw bad('must not be empty');
      if (t.length > spec.maxLength) throw bad(`must be at most ${spec.maxLength} characters (got ${t.length})`);
      return t;
    }
    case 'choice': {
      // Case-insensitive, but the canonical spelling goes on ('s+p+f+I' keeps its capital I).
      const v = typeof value === 'object' ? '' : String(value).trim().toLowerCase();
      const canonical = spec.choices.find((c) => c.toLowerCase() === v);
      if (canonical === undefined) throw bad(`must be one of ${spec.choices.join(', ')}`);
      return canonical;
    }
    case 'user': {
      if (typeof value === 'object' && value && 'userId' in value) return value;
      throw bad('must be a person (mention them)');
    }
  }
}

/** A text option's value as a handler reads it, '' when not given (validation made it a string). */
export function textOption(options: CommandOptions, name: string): string {
  const value = options[name];
  return typeof value === 'string' ? value : '';
}

/**
 * Parses `key:value key2:value with spaces` into raw options (Slack and the playground pass one text
 * string). A value may be quoted (`prompt:"a fox iterations:3"`, also “…”); an unquoted text value
 * runs until the next ` known_key:`, any other value is one word. Text outside options is the free
 * remainder: it goes to the first required text option (so `/optimize a red fox iterations:3`
 * works), or to the first option (`/profile @ann`). User values are resolved by the platform.
 */
export function parseOptionText(def: CommandDefinition, text: string, resolveUser: (raw: string) => PersonRef | undefined): RawOptions {
  const names = def.options.map((o) => o.name);
  const raw: RawOptions = {};
  const t = text.trim();
  if (!t) return raw;
  const keyAt = new RegExp(`^(${names.map(escapeRe).join('|') || '(?!)'}):`);
  const nextKey = new RegExp(`\\s(?:${names.map(escapeRe).join('|') || '(?!)'}):`, 'g');
  const bad = (why: string) => new CommandInputError(why, def.usage);
  const setValue = (spec: OptionSpec, value: string) => {
    if (raw[spec.name] !== undefined) throw bad(`${spec.name} is given twice.`);
    if (spec.type === 'user') {
      const person = resolveUser(value);
      if (!person) throw bad(`I don't know the person "${value}".`);
      raw[spec.name] = person;
    } else {
      raw[spec.name] = value;
    }
  };
  const remainder: string[] = [];
  let i = 0;
  while (i < t.length) {
    if (/\s/.test(t[i]!)) {
      i++;
      continue;
    }
    const key = keyAt.exec(t.slice(i));
    if (key) {
      const spec = def.options.find((o) => o.name === key[1])!;
      const start = i + key[0].length;
      const quoted = readQuoted(t, start, def.usage);
      if (quoted) {
        setValue(spec, quoted.value);
        i = quoted.end;
      } else if (spec.type === 'string') {
        nextKey.lastIndex = start;
        const end = nextKey.exec(t)?.index ?? t.length;
        setValue(spec, t.slice(start, end).trim());
        i = end;
      } else {
        const end = wordEnd(t, start);
        setValue(spec, t.slice(start, end));
        i = end;
      }
      continue;
    }
    const quoted = readQuoted(t, i, def.usage);
    if (quoted) {
      remainder.push(quoted.value);
      i = quoted.end;
    } else {
      const end = wordEnd(t, i);
      remainder.push(t.slice(i, end));
      i = end;
    }
  }
  const rest = remainder.join(' ').trim();
  if (rest) {
    const target = def.options.find((o) => o.type === 'string' && o.required) ?? def.options[0];
    // Text that cannot be a value here but is shaped like an option (`color:red`) was meant as one.
    const unusable = !target || raw[target.name] !== undefined || target.type !== 'string';
    const optionLike = unusable ? remainder.map((w) => /^([a-z][\w-]{0,30}):\S/i.exec(w)?.[1]).find(Boolean) : undefined;
    if (optionLike) throw unknownOption(def, optionLike);
    if (!target) throw bad(`/${def.name} takes no options, so I don't know what “${rest.slice(0, 60)}” is for.`);
    if (raw[target.name] !== undefined)
      throw bad(
        `I don't know what “${rest.slice(0, 60)}” is for: ${target.name} is already given. Put a value with spaces in quotes: ${target.name}:"…".`,
      );
    setValue(target, rest);
  }
  return raw;
}

/** "Unknown option `color`. Options of /optimize: prompt, iterations, …" — from the command's declaration. */
export function unknownOption(def: CommandDefinition, name: string): CommandInputError {
  const shown = name.replace(/`/g, "'").slice(0, 40);
  const known = def.options.length
    ? `Options of /${def.name}: ${def.options.map((o) => o.name).join(', ')}.`
    : `/${def.name} takes no options.`;
  return new CommandInputError(`Unknown option \`${shown}\`. ${known}`, def.usage);
}

const QUOTES: Record<string, string> = { '"': '"', '\u201C': '\u201D', '\u201E': '\u201C' };

/** A value in quotes starting at `at`: its content and the index after the closing quote. */
function readQuoted(t: string, at: number, usage?: string): { value: string; end: number } | null {
  const close = QUOTES[t[at] ?? ''];
  if (!close) return null;
  const end = t.indexOf(close, at + 1);
  if (end < 0) throw new CommandInputError('A quote is not closed.', usage);
  return { value: t.slice(at + 1, end).trim(), end: end + 1 };
}

function wordEnd(t: string, from: number): number {
  const m = /\s/.exec(t.slice(from));
  return m ? from + m.index : t.length;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
