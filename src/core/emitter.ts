/**
 * A tiny typed event emitter. A throwing listener is reported through `onError` and never reaches the
 * code that emitted (a rater must not see a scorer's failure), nor stops the other listeners.
 */
export class Emitter<T> {
  private readonly listeners = new Set<(value: T) => void>();

  constructor(private readonly onError: (err: unknown) => void = () => {}) {}

  /** Returns the unsubscribe function. */
  on(listener: (value: T) => void): () => void {
    // Wrapped so the same function may subscribe twice and unsubscribe each independently.
    const entry = (value: T) => listener(value);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  emit(value: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}
