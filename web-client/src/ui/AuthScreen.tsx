import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/rest';
import { app, errorText, useApp } from '../state/store';

function authError(e: unknown, mode: 'login' | 'register'): string {
  if (e instanceof ApiError) {
    switch (e.code) {
      case 'invalid_credentials': return 'Wrong username, email, phone or password.';
      case 'account_disabled': return 'This account has been disabled by an administrator.';
      case 'username_taken': return 'That username is already taken. Pick another one.';
      case 'email_taken': return 'That email address is already used by another account.';
      case 'phone_taken': return 'That phone number is already used by another account.';
      case 'registration_closed': return 'Registration is closed on this server. Ask an administrator for an invite.';
      case 'invite_invalid': return 'That invite code is unknown, expired or used up.';
      case 'invalid_input': return e.message.charAt(0).toUpperCase() + e.message.slice(1) + '.';
    }
  }
  void mode;
  return errorText(e);
}

export function AuthScreen() {
  const reason = useApp((s) => s.signedOutReason);
  const [mode, setMode] = useState<'login' | 'register'>('login');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [f, setF] = useState({ login: '', password: '', username: '', display_name: '', email: '', phone: '', invite: '' });
  const upd = (k: keyof typeof f) => (e: React.ChangeEvent<HTMLInputElement>) => setF({ ...f, [k]: e.target.value });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (mode === 'register' && f.password.length < 8) {
      setError('Use a password of at least 8 characters.');
      return;
    }
    setBusy(true);
    try {
      if (mode === 'login') await app.login(f.login.trim(), f.password);
      else
        await app.register({
          username: f.username.trim().toLowerCase(),
          password: f.password,
          display_name: f.display_name.trim() || undefined,
          email: f.email.trim() || undefined,
          phone: f.phone.trim() || undefined,
          invite: f.invite.trim() || undefined,
        });
    } catch (err) {
      setError(authError(err, mode));
      setBusy(false);
    }
  };

  return (
    <div className="auth">
      <div className="auth-top" />
      <main className="auth-card">
        <h1 className="auth-brand">Parley</h1>
        <div className="auth-tabs" role="tablist" aria-label="Sign in or create an account">
          <button type="button" role="tab" aria-selected={mode === 'login'} onClick={() => { setMode('login'); setError(null); }}>Log in</button>
          <button type="button" role="tab" aria-selected={mode === 'register'} onClick={() => { setMode('register'); setError(null); }}>Create account</button>
        </div>
        {reason && mode === 'login' && <p className="auth-notice" role="status">{reason}</p>}
        <form onSubmit={submit} className="auth-form" aria-label={mode === 'login' ? 'Log in' : 'Create account'}>
          {mode === 'login' ? (
            <label>Username, email or phone
              <input autoFocus autoComplete="username" value={f.login} onChange={upd('login')} required />
            </label>
          ) : (
            <>
              <label>Username
                <input autoFocus autoComplete="username" value={f.username} onChange={upd('username')} required
                  pattern="[A-Za-z0-9][A-Za-z0-9._\-]{2,31}" title="3-32 letters, digits, dots, dashes or underscores, starting with a letter or digit" />
              </label>
              <label>Display name <span className="optional">(optional)</span>
                <input autoComplete="name" value={f.display_name} onChange={upd('display_name')} maxLength={64} />
              </label>
              <label>Email <span className="optional">(optional)</span>
                <input type="email" autoComplete="email" value={f.email} onChange={upd('email')} />
              </label>
              <label>Phone <span className="optional">(optional)</span>
                <input type="tel" autoComplete="tel" value={f.phone} onChange={upd('phone')} placeholder="+15551234567" />
              </label>
            </>
          )}
          <label>Password
            <input type="password" autoComplete={mode === 'login' ? 'current-password' : 'new-password'} value={f.password} onChange={upd('password')} required />
          </label>
          {mode === 'register' && (
            <label>Invite code <span className="optional">(if the server requires one)</span>
              <input value={f.invite} onChange={upd('invite')} />
            </label>
          )}
          {error && <p className="form-error" role="alert">{error}</p>}
          <button type="submit" className="btn-primary wide" disabled={busy}>
            {busy ? 'Please wait…' : mode === 'login' ? 'Log in' : 'Create account'}
          </button>
        </form>
      </main>
    </div>
  );
}
