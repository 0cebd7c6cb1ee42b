// The media cookie: <img>/<video>/<audio> cannot send the bearer token, so the server sets a
// cookie that lets them load /api/media URLs. Renewed after every token refresh and shortly
// before the access token expires.
import type { StoreHost } from './appState';

export class MediaCookie {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private renewing: Promise<void> | null = null;

  constructor(private host: StoreHost) {}

  /** Sets the cookie now (once at a time) and schedules the next renewal. */
  renew(): Promise<void> {
    if (!this.renewing) {
      this.renewing = (async () => {
        try {
          await this.host.api.mediaCookie();
          if (this.host.state.phase === 'signed_in' && !this.host.state.mediaReady) this.host.set({ mediaReady: true });
        } catch {
          /* offline: retried when the connection is back */
        }
        this.schedule();
      })().finally(() => {
        this.renewing = null;
      });
    }
    return this.renewing;
  }

  /** Signing out: no more renewals. */
  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule() {
    this.stop();
    const api = this.host.api;
    const t = api.store.get();
    if (!t || this.host.state.phase !== 'signed_in') return;
    const due = Math.max(30_000, t.expires_at - Date.now() - 20_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      const before = api.store.get()?.access_token;
      // Refreshes the token when it is about to expire (onRefreshed renews the cookie); if
      // another tab refreshed it, that tab renewed the shared cookie.
      api.accessToken().then(
        (tok) => { if (tok === before || !this.renewing) this.schedule(); },
        () => this.schedule(),
      );
    }, Math.min(due, 2 ** 31 - 1));
  }
}
