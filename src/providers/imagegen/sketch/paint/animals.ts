/**
 * Animal silhouettes standing on the ground at (x, base), `h` tall, in one fill color: a sitting cat
 * seen from the front, a dog and a horse seen from the side. Pure shape functions (no randomness), so
 * props.ts decides where they go.
 */
import { f1 } from './canvas';

function limb(x: number, top: number, base: number, width: number, fill: string): string {
  return `<rect x="${f1(x - width / 2)}" y="${f1(top)}" width="${f1(width)}" height="${f1(base - top)}" rx="${f1(width / 3)}" fill="${fill}"/>`;
}

/** A cat sitting upright: body, head, pointed ears and a curled tail. */
export function catShape(x: number, base: number, h: number, fill: string): string {
  const headY = base - h * 0.72;
  let s = `<ellipse cx="${f1(x)}" cy="${f1(base - h * 0.3)}" rx="${f1(h * 0.27)}" ry="${f1(h * 0.31)}" fill="${fill}"/>`;
  s += `<circle cx="${f1(x)}" cy="${f1(headY)}" r="${f1(h * 0.17)}" fill="${fill}"/>`;
  for (const side of [-1, 1])
    s += `<path d="M${f1(x + side * h * 0.16)} ${f1(headY - h * 0.02)} L${f1(x + side * h * 0.13)} ${f1(headY - h * 0.27)} L${f1(x + side * h * 0.02)} ${f1(headY - h * 0.14)} Z" fill="${fill}"/>`;
  s += `<path d="M${f1(x + h * 0.22)} ${f1(base - h * 0.05)} Q ${f1(x + h * 0.58)} ${f1(base - h * 0.05)} ${f1(x + h * 0.46)} ${f1(base - h * 0.45)}" stroke="${fill}" stroke-width="${f1(h * 0.07)}" stroke-linecap="round" fill="none"/>`;
  return s;
}

/** A dog in profile, facing right: body, four legs, head with snout and a drooping ear, raised tail. */
export function dogShape(x: number, base: number, h: number, fill: string): string {
  const bodyY = base - h * 0.5;
  let s = `<ellipse cx="${f1(x)}" cy="${f1(bodyY)}" rx="${f1(h * 0.45)}" ry="${f1(h * 0.17)}" fill="${fill}"/>`;
  for (const dx of [-0.34, -0.22, 0.22, 0.34]) s += limb(x + dx * h, bodyY, base, h * 0.09, fill);
  s += `<path d="M${f1(x + h * 0.3)} ${f1(bodyY - h * 0.05)} L${f1(x + h * 0.42)} ${f1(bodyY - h * 0.3)} L${f1(x + h * 0.56)} ${f1(bodyY - h * 0.22)} L${f1(x + h * 0.45)} ${f1(bodyY + h * 0.05)} Z" fill="${fill}"/>`;
  s += `<circle cx="${f1(x + h * 0.5)}" cy="${f1(bodyY - h * 0.33)}" r="${f1(h * 0.14)}" fill="${fill}"/>`;
  s += `<ellipse cx="${f1(x + h * 0.68)}" cy="${f1(bodyY - h * 0.28)}" rx="${f1(h * 0.12)}" ry="${f1(h * 0.07)}" fill="${fill}"/>`;
  s += `<ellipse cx="${f1(x + h * 0.42)}" cy="${f1(bodyY - h * 0.27)}" rx="${f1(h * 0.05)}" ry="${f1(h * 0.12)}" fill="${fill}"/>`;
  s += `<path d="M${f1(x - h * 0.42)} ${f1(bodyY - h * 0.05)} Q ${f1(x - h * 0.6)} ${f1(bodyY - h * 0.2)} ${f1(x - h * 0.55)} ${f1(bodyY - h * 0.4)}" stroke="${fill}" stroke-width="${f1(h * 0.06)}" stroke-linecap="round" fill="none"/>`;
  return s;
}

/** A horse in profile, facing right: long legs, a raised neck and head, a flowing tail. */
export function horseShape(x: number, base: number, h: number, fill: string): string {
  const bodyY = base - h * 0.58;
  let s = `<ellipse cx="${f1(x)}" cy="${f1(bodyY)}" rx="${f1(h * 0.4)}" ry="${f1(h * 0.15)}" fill="${fill}"/>`;
  for (const dx of [-0.3, -0.2, 0.2, 0.3]) s += limb(x + dx * h, bodyY, base, h * 0.06, fill);
  s += `<path d="M${f1(x + h * 0.22)} ${f1(bodyY - h * 0.06)} L${f1(x + h * 0.42)} ${f1(bodyY - h * 0.42)} L${f1(x + h * 0.52)} ${f1(bodyY - h * 0.36)} L${f1(x + h * 0.38)} ${f1(bodyY + h * 0.06)} Z" fill="${fill}"/>`;
  s += `<path d="M${f1(x + h * 0.4)} ${f1(bodyY - h * 0.46)} L${f1(x + h * 0.62)} ${f1(bodyY - h * 0.3)} L${f1(x + h * 0.58)} ${f1(bodyY - h * 0.22)} L${f1(x + h * 0.42)} ${f1(bodyY - h * 0.32)} Z" fill="${fill}"/>`;
  s += `<path d="M${f1(x + h * 0.42)} ${f1(bodyY - h * 0.46)} L${f1(x + h * 0.44)} ${f1(bodyY - h * 0.54)} L${f1(x + h * 0.47)} ${f1(bodyY - h * 0.45)} Z" fill="${fill}"/>`;
  s += `<path d="M${f1(x - h * 0.38)} ${f1(bodyY - h * 0.06)} Q ${f1(x - h * 0.55)} ${f1(bodyY + h * 0.05)} ${f1(x - h * 0.5)} ${f1(bodyY + h * 0.35)}" stroke="${fill}" stroke-width="${f1(h * 0.07)}" stroke-linecap="round" fill="none"/>`;
  return s;
}
