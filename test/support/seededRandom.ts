/**
 * A small seeded pseudo-random generator (mulberry32): the same seed gives the same
 * sequence, so a fault test that injects errors "at random" can be run again alike.
 *
 * @example
 * const random = seededRandom(42);
 * if (random() < 0.01) throw new RetriableError('TRANSIENT', 'injected');
 */
export const seededRandom = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};
