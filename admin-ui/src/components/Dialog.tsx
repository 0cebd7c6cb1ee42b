// Modal dialogs on the native <dialog> element: it traps focus, closes on Escape and gives
// the right role, so no dialog library is needed.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { createPortal } from 'react-dom';
import { CopyButton, ErrorText } from './ui';

export function Dialog({ title, onClose, children, wide }: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  // A portal keeps a dialog opened from inside another one out of its DOM subtree.
  return createPortal(
    <dialog
      ref={ref}
      className={wide ? 'dialog dialog-wide' : 'dialog'}
      aria-label={title}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <header className="dialog-header">
        <h2>{title}</h2>
        <button type="button" className="btn-icon" aria-label="Close" onClick={onClose}>×</button>
      </header>
      <div className="dialog-body">{children}</div>
    </dialog>,
    document.body,
  );
}

/** A yes/no question; `onConfirm` may throw, its error is shown and the dialog stays. */
export function ConfirmDialog({ title, children, confirmLabel, danger, onConfirm, onClose, password }: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  /** Ask for the admin's own password again (destructive actions need it). */
  password?: boolean;
  onConfirm: (password: string) => Promise<void>;
  onClose: () => void;
}) {
  const [pw, setPw] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onConfirm(pw);
      onClose();
    } catch (err) {
      setError(err as Error);
      setBusy(false);
    }
  };
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit} className="stack">
        <div className="stack">{children}</div>
        {password && (
          <label className="field">
            <span className="field-label">Your password</span>
            <input type="password" autoComplete="current-password" value={pw} onChange={(e) => setPw(e.target.value)} required autoFocus />
            <span className="hint">Confirm it is you: this action cannot be undone.</span>
          </label>
        )}
        <ErrorText error={error} />
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>Cancel</button>
          <button type="submit" className={danger ? 'btn btn-danger' : 'btn btn-primary'} disabled={busy || (password && !pw)}>
            {confirmLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** Shows a secret (temporary password) once, with a copy button. */
export function SecretDialog({ title, label, secret, note, onClose }: { title: string; label: string; secret: string; note?: ReactNode; onClose: () => void }) {
  return (
    <Dialog title={title} onClose={onClose}>
      <div className="stack">
        <p>{note ?? 'This is shown only once. Pass it on safely; the user should change it after logging in.'}</p>
        <div className="secret-row">
          <code className="secret" aria-label={label} data-testid="secret">{secret}</code>
          <CopyButton text={secret} label={`Copy ${label.toLowerCase()}`} />
        </div>
        <div className="dialog-actions">
          <button type="button" className="btn btn-primary" onClick={onClose} autoFocus>Done</button>
        </div>
      </div>
    </Dialog>
  );
}
