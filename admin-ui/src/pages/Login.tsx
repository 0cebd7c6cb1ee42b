// Login and "not an administrator" screens.
import { useState, type FormEvent } from 'react';
import type { Profile } from '../api/types';
import { ErrorText } from '../components/ui';

export function LoginPage({ onLogin, notice }: { onLogin: (login: string, password: string) => Promise<void>; notice: string | null }) {
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onLogin(login.trim(), password);
    } catch (err) {
      setError(err as Error);
      setBusy(false);
    }
  };
  return (
    <main className="center-screen">
      <form className="card login-card stack" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Parley admin console</h1>
        <p className="muted">Log in with an administrator account.</p>
        {notice && <p className="notice" role="status">{notice}</p>}
        <label className="field">
          <span className="field-label">Username, email or phone</span>
          <input value={login} onChange={(e) => setLogin(e.target.value)} autoComplete="username" required autoFocus />
        </label>
        <label className="field">
          <span className="field-label">Password</span>
          <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" required />
        </label>
        <ErrorText error={error} />
        <button type="submit" className="btn btn-primary" disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
    </main>
  );
}

export function NotAdminPage({ user, onLogout }: { user: Profile; onLogout: () => void }) {
  return (
    <main className="center-screen">
      <section className="card login-card stack" aria-labelledby="na-title">
        <h1 id="na-title">This account is not an administrator</h1>
        <p>
          You are logged in as <strong>{user.display_name || user.username}</strong> ({user.user_id}). The admin
          console is only for administrators of this Parley appliance. Ask an administrator to grant you the role,
          or use the chat at <a href="/">{location.origin}/</a>.
        </p>
        <button type="button" className="btn btn-primary" onClick={onLogout}>Log out</button>
      </section>
    </main>
  );
}
