// After a restore the appliance restarts. Polls /health/ready until the new process answers.

export interface WaitOptions {
  fetch?: typeof fetch;
  intervalMs?: number;
  /**
   * If the server never looked down, trust it after this long: the appliance restarts in
   * place and keeps its sockets bound, so a restore often shows no gap at all.
   */
  settleMs?: number;
  timeoutMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  signal?: { cancelled: boolean };
}

/**
 * Resolves true once /health/ready answers 200 after having failed at least once (the old
 * process went away), or after `settleMs` of steady answers; false on timeout or cancel.
 */
export async function waitForRestart(url = '/health/ready', o: WaitOptions = {}): Promise<boolean> {
  const f = o.fetch ?? ((u: RequestInfo | URL, i?: RequestInit) => fetch(u, i));
  const interval = o.intervalMs ?? 1000;
  const settle = o.settleMs ?? 5_000;
  const timeout = o.timeoutMs ?? 10 * 60_000;
  const now = o.now ?? (() => Date.now());
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const start = now();
  let wentDown = false;
  while (now() - start < timeout) {
    if (o.signal?.cancelled) return false;
    let up = false;
    try {
      const res = await f(url, { cache: 'no-store' });
      up = res.ok;
    } catch {
      up = false;
    }
    if (!up) wentDown = true;
    else if (wentDown || now() - start >= settle) return true;
    await sleep(interval);
  }
  return false;
}
