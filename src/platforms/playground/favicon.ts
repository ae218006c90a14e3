/**
 * The playground's tab icon: the page's logo (a rounded square in its pink-to-blue gradient with a
 * white spark), served as /favicon.svg — and at /favicon.ico, which browsers ask for on their own —
 * so a tab is recognisable and the console shows no 404.
 */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="#ff00aa"/><stop offset=".6" stop-color="#5865f2"/><stop offset="1" stop-color="#00ccff"/>
</linearGradient></defs>
<rect width="64" height="64" rx="16" fill="url(#g)"/>
<path d="M32 12 L37 27 L52 32 L37 37 L32 52 L27 37 L12 32 L27 27 Z" fill="#fff"/>
</svg>
`;

export const FAVICON_PATHS: ReadonlySet<string> = new Set(['/favicon.svg', '/favicon.ico']);
