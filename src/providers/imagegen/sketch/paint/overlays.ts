/**
 * Painters of what stands in front of the landscape: a figure at the focus, abstract shapes, and the
 * small marks that give busy scenes their edge energy.
 */
import { hex, shade } from '../color';
import { f1, type Ctx } from './canvas';

export function figureLayer(c: Ctx): string {
  const p = c.spec.palette;
  const x = c.focusX;
  const y = c.spec.subjects.includes('sea') ? c.W - 90 : Math.min(c.W - 60, c.hy + 230);
  const h = c.spec.composition === 'centered' ? 420 : 300;
  const col = hex(c.dark ? shade(p.near, -0.05) : shade(p.near, -0.2));
  const coat = hex(c.spec.colorWords.length ? p.accent : shade(p.near, -0.12));
  const head = h * 0.11;
  const shoulders = y - h * 0.78;
  let s = `<ellipse cx="${f1(x)}" cy="${f1(y)}" rx="${f1(h * 0.22)}" ry="${f1(h * 0.03)}" fill="#000" opacity="0.25"/>`;
  s += `<path d="M${f1(x - h * 0.16)} ${f1(y)} L${f1(x - h * 0.12)} ${f1(shoulders + h * 0.06)} Q ${f1(x)} ${f1(shoulders - h * 0.06)} ${f1(x + h * 0.12)} ${f1(shoulders + h * 0.06)} L${f1(x + h * 0.16)} ${f1(y)} Z" fill="${coat}"/>`;
  s += `<circle cx="${f1(x)}" cy="${f1(shoulders - head * 0.9)}" r="${f1(head)}" fill="${col}"/>`;
  return s;
}

export function abstractLayer(c: Ctx): string {
  const p = c.spec.palette;
  const cols = [p.accent, p.accent2, p.light, p.far, p.near, shade(p.accent, -0.2)];
  if (c.spec.composition === 'minimal') {
    const x = c.focusX + (c.spec.variation[9]! - 0.5) * 200;
    const y = c.W * (0.4 + c.spec.variation[10]! * 0.2);
    return (
      `<circle cx="${f1(x)}" cy="${f1(y)}" r="${f1(170 + c.r() * 60)}" fill="${hex(p.accent)}"/>` +
      `<rect x="${f1(c.W * 0.12)}" y="${f1(c.W * 0.8)}" width="${f1(c.W * 0.76)}" height="10" fill="${hex(shade(p.near, -0.05))}"/>` +
      `<circle cx="${f1(c.W - x * 0.6)}" cy="${f1(c.W * 0.72)}" r="28" fill="${hex(p.accent2)}"/>`
    );
  }
  const n = Math.round(6 + c.spec.detail * 40);
  let s = '';
  for (let i = 0; i < n; i++) {
    const col = hex(cols[Math.floor(c.r() * cols.length)]!);
    const centered = c.spec.composition === 'centered' || c.spec.composition === 'symmetric';
    const x = centered ? c.W / 2 + (c.r() - 0.5) * 500 : c.r() * c.W;
    const y = centered ? c.W / 2 + (c.r() - 0.5) * 500 : c.r() * c.W;
    const size = (60 + c.r() * 180) * (1 - i / (n * 1.6));
    const op = f1(0.6 + c.r() * 0.4);
    const kind = Math.floor(c.r() * 4);
    if (kind === 0) s += `<circle cx="${f1(x)}" cy="${f1(y)}" r="${f1(size / 2)}" fill="${col}" opacity="${op}"/>`;
    else if (kind === 1)
      s += `<rect x="${f1(x - size / 2)}" y="${f1(y - size / 2)}" width="${f1(size)}" height="${f1(size * (0.4 + c.r()))}" fill="${col}" opacity="${op}" transform="rotate(${f1((c.r() - 0.5) * 60)} ${f1(x)} ${f1(y)})"/>`;
    else if (kind === 2)
      s += `<path d="M${f1(x)} ${f1(y - size / 2)} L${f1(x + size / 2)} ${f1(y + size / 2)} L${f1(x - size / 2)} ${f1(y + size / 2)} Z" fill="${col}" opacity="${op}"/>`;
    else
      s += `<path d="M${f1(x - size / 2)} ${f1(y)} A ${f1(size / 2)} ${f1(size / 2)} 0 0 1 ${f1(x + size / 2)} ${f1(y)}" stroke="${col}" stroke-width="${f1(8 + size / 10)}" fill="none" opacity="${op}"/>`;
  }
  return s;
}

/** Busy scenes get extra small marks (birds, sparkles): edge energy that "minimal" never has. */
export function detailMarks(c: Ctx): string {
  const n = Math.round(Math.max(0, c.spec.detail - 0.55) * 160);
  let s = '';
  const col = hex(c.dark ? c.spec.palette.light : shade(c.spec.palette.near, -0.1));
  for (let i = 0; i < n; i++) {
    const x = c.r() * c.W;
    const y = c.r() * c.W;
    const w = 6 + c.r() * 14;
    s += `<path d="M${f1(x - w)} ${f1(y)} Q ${f1(x - w / 2)} ${f1(y - w / 2)} ${f1(x)} ${f1(y)} Q ${f1(x + w / 2)} ${f1(y - w / 2)} ${f1(x + w)} ${f1(y)}" stroke="${col}" stroke-width="2" fill="none" opacity="0.7"/>`;
  }
  return s;
}
