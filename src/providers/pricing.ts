/**
 * Estimated prices, in USD, used for usage records and budgets. Estimates only: list prices as
 * published by OpenAI and Replicate in 2025 (standard tier, no batch/cached discounts). A model
 * not listed is priced like an expensive one on purpose, so budgets err on the side of stopping;
 * pass `prices` overrides to the providers for local/free servers (Ollama, vLLM: all zeros).
 */

export interface TokenPrice {
  /** USD per million input tokens. */
  inPerM: number;
  /** USD per million output tokens. */
  outPerM: number;
}

/** Chat models, matched by longest prefix (so dated snapshots like gpt-4o-mini-2024-07-18 match). */
export const CHAT_PRICES: Record<string, TokenPrice> = {
  'gpt-4o-mini': { inPerM: 0.15, outPerM: 0.6 },
  'gpt-4o': { inPerM: 2.5, outPerM: 10 },
  'gpt-4.1-nano': { inPerM: 0.1, outPerM: 0.4 },
  'gpt-4.1-mini': { inPerM: 0.4, outPerM: 1.6 },
  'gpt-4.1': { inPerM: 2, outPerM: 8 },
  'gpt-5-nano': { inPerM: 0.05, outPerM: 0.4 },
  'gpt-5-mini': { inPerM: 0.25, outPerM: 2 },
  'gpt-5': { inPerM: 1.25, outPerM: 10 },
  'o4-mini': { inPerM: 1.1, outPerM: 4.4 },
};
/** Unknown chat models: priced like gpt-4o (conservative). */
export const UNKNOWN_CHAT_PRICE: TokenPrice = { inPerM: 2.5, outPerM: 10 };

/**
 * Image models. gpt-image-1 bills tokens (text in $5/M, image out $40/M; a 1024² image is 272/1056/4160
 * output tokens at low/medium/high quality); `perImage` is the fallback when a reply has no usage.
 */
export interface ImagePrice {
  perImage: number;
  tokens?: TokenPrice;
}
export const IMAGE_PRICES: Record<string, ImagePrice> = {
  'gpt-image-1-mini': { perImage: 0.011, tokens: { inPerM: 2, outPerM: 8 } },
  'gpt-image-1': { perImage: 0.042, tokens: { inPerM: 5, outPerM: 40 } },
  'dall-e-3': { perImage: 0.04 },
  'dall-e-2': { perImage: 0.02 },
  // Replicate (per output image, hardware time folded in).
  'black-forest-labs/flux-schnell': { perImage: 0.003 },
  'black-forest-labs/flux-dev': { perImage: 0.025 },
  'black-forest-labs/flux-1.1-pro': { perImage: 0.04 },
  'black-forest-labs/flux-pro': { perImage: 0.055 },
  'stability-ai/sdxl': { perImage: 0.01 },
};
export const UNKNOWN_IMAGE_PRICE: ImagePrice = { perImage: 0.05 };

/** Moderation is free at OpenAI; kept in the table so a price change is one edit. */
export const MODERATION_PRICE_PER_CALL = 0;

function byLongestPrefix<T>(table: Record<string, T>, model: string): T | undefined {
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    if ((model === key || model.startsWith(key)) && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : table[best];
}

export function chatPrice(model: string, overrides?: Record<string, TokenPrice>): TokenPrice {
  return (overrides && byLongestPrefix(overrides, model)) ?? byLongestPrefix(CHAT_PRICES, model) ?? UNKNOWN_CHAT_PRICE;
}

export function imagePrice(model: string, overrides?: Record<string, ImagePrice>): ImagePrice {
  return (overrides && byLongestPrefix(overrides, model)) ?? byLongestPrefix(IMAGE_PRICES, model) ?? UNKNOWN_IMAGE_PRICE;
}

export function chatCostUsd(model: string, tokensIn: number, tokensOut: number, overrides?: Record<string, TokenPrice>): number {
  const p = chatPrice(model, overrides);
  return (tokensIn * p.inPerM + tokensOut * p.outPerM) / 1e6;
}

/** Cost of generated images: token-based when the reply reports tokens, else per image. */
export function imageCostUsd(
  model: string,
  images: number,
  tokens?: { in: number; out: number },
  overrides?: Record<string, ImagePrice>,
): number {
  const p = imagePrice(model, overrides);
  if (tokens && p.tokens && tokens.out > 0) return (tokens.in * p.tokens.inPerM + tokens.out * p.tokens.outPerM) / 1e6;
  return images * p.perImage;
}
