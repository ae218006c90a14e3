/** A real pino logger whose JSON lines are kept for assertions (what an operator would read). */
import pino, { type Logger } from 'pino';

export interface CapturedLine {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  msg: string;
  [k: string]: unknown;
}

export function captureLogger(level: pino.LevelWithSilent = 'info'): { logger: Logger; lines(): CapturedLine[] } {
  const raw: string[] = [];
  const logger = pino({ level, formatters: { level: (label) => ({ level: label }) } }, { write: (l: string) => void raw.push(l) });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as CapturedLine) };
}
