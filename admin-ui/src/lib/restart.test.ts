import { describe, expect, it } from 'vitest';
import { waitForRestart } from './restart';

function fakeClock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => { t += ms; } };
}

const answers = (seq: (boolean | 'throw')[]) => {
  let i = 0;
  return async () => {
    const a = seq[Math.min(i++, seq.length - 1)];
    if (a === 'throw') throw new TypeError('connection refused');
    return new Response(null, { status: a ? 200 : 503 });
  };
};

describe('waitForRestart', () => {
  it('resolves once the server answers again after going down', async () => {
    const f = answers([true, true, 'throw', false, true]);
    let calls = 0;
    const ok = await waitForRestart('/health/ready', { ...fakeClock(), fetch: (async () => { calls++; return f(); }) as typeof fetch });
    expect(ok).toBe(true);
    expect(calls).toBe(5);
  });
  it('trusts a server that never looked down after the settle time', async () => {
    const clock = fakeClock();
    const ok = await waitForRestart('/r', { ...clock, fetch: answers([true]) as typeof fetch, settleMs: 5000, intervalMs: 1000 });
    expect(ok).toBe(true);
    expect(clock.now()).toBe(5000);
  });
  it('gives up after the timeout', async () => {
    const ok = await waitForRestart('/r', { ...fakeClock(), fetch: answers(['throw']) as typeof fetch, timeoutMs: 10_000 });
    expect(ok).toBe(false);
  });
});
