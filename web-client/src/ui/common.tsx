import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import type { ReceiptState } from '../api/types';
import { orgOf } from '../api/address';
import { thumbnailUrl } from '../api/media';
import { app, errorText, useApp } from '../state/store';
import { colorFor, initials } from './format';
import { IconAlert, IconCheck, IconClock, IconDoubleCheck, IconGroup, IconOrg } from './icons';

export function Avatar({ id, name, size = 49, group = false, media }: {
  id: string; name: string; size?: number; group?: boolean; media?: string | null;
}) {
  const ready = useApp((s) => s.mediaReady);
  const [failed, setFailed] = useState<string | null>(null);
  const [retried, setRetried] = useState<string | null>(null);
  if (media && ready && failed !== media) {
    // The profile or group picture's thumbnail; the initials disc if it cannot be loaded.
    return (
      <img className="avatar avatar-img" src={thumbnailUrl(media)} alt="" aria-hidden="true" width={size} height={size}
        style={{ width: size, height: size, background: colorFor(id) }} data-avatar={media} key={retried === media ? 'retry' : 'first'}
        onError={() => {
          // Once per picture: renew a possibly expired media cookie and try again.
          if (retried !== media) app.renewMediaCookie().then(() => setRetried(media));
          else setFailed(media);
        }} />
    );
  }
  return (
    <div className="avatar" style={{ width: size, height: size, background: colorFor(id), fontSize: size * 0.4 }} aria-hidden="true">
      {group ? <IconGroup width={size * 0.55} height={size * 0.55} /> : initials(name)}
    </div>
  );
}

/** This appliance's server name, to tell colleagues from people of other organizations. */
export function useServerName(): string | null {
  return useApp((s) => s.serverName);
}

/**
 * The organization badge next to a person from another appliance (their domain), so they are
 * told apart from a colleague with the same name; nothing for local users.
 */
export function OrgBadge({ id }: { id: string | null | undefined }) {
  const org = orgOf(id, useServerName());
  if (!org) return null;
  return (
    <span className="org-badge" title={`From ${org}, another organization`} data-testid="org-badge" data-org={org}>
      <IconOrg />
      <span className="sr-only">from </span>{org}
    </span>
  );
}

/**
 * A person's (or chat's) name as a row title, with the organization badge when `id` is someone
 * from another appliance; for everyone else the same single title element as before.
 */
export function PersonTitle({ id, name, testId }: { id: string | null | undefined; name: string; testId?: string }) {
  const org = orgOf(id, useServerName());
  const title = <span className="row-title" data-testid={testId}>{name}</span>;
  if (!org) return title;
  return <span className="title-line">{title}<OrgBadge id={id} /></span>;
}

export type TickKind = ReceiptState | 'pending' | 'failed';

export function Ticks({ state }: { state: TickKind }) {
  switch (state) {
    case 'pending':
      return <span className="tick tick-pending" role="img" aria-label="Sending" title="Sending"><IconClock /></span>;
    case 'failed':
      return <span className="tick tick-failed" role="img" aria-label="Not sent" title="Not sent"><IconAlert /></span>;
    case 'sent':
      return <span className="tick tick-sent" role="img" aria-label="Sent" title="Sent" data-tick="sent"><IconCheck /></span>;
    case 'delivered':
      return <span className="tick tick-delivered" role="img" aria-label="Delivered" title="Delivered" data-tick="delivered"><IconDoubleCheck /></span>;
    case 'read':
      return <span className="tick tick-read" role="img" aria-label="Read" title="Read" data-tick="read"><IconDoubleCheck /></span>;
  }
}

export interface MenuItem {
  label: string;
  onSelect: () => void;
  danger?: boolean;
}

/** A button opening a menu; keyboard: arrows move, Escape closes, Enter selects. */
export function MenuButton({ label, icon, items, className = 'icon-btn', align = 'right' }: {
  label: string; icon: ReactNode; items: MenuItem[]; className?: string; align?: 'left' | 'right';
}) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const btn = useRef<HTMLButtonElement>(null);
  const id = useId();
  useEffect(() => {
    if (!open) return;
    const onDoc = (e: MouseEvent) => {
      if (!ref.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', onDoc);
    ref.current?.querySelector<HTMLButtonElement>('[role=menuitem]')?.focus();
    return () => document.removeEventListener('mousedown', onDoc);
  }, [open]);
  const onKey = (e: React.KeyboardEvent) => {
    const all = [...(ref.current?.querySelectorAll<HTMLButtonElement>('[role=menuitem]') ?? [])];
    const i = all.indexOf(document.activeElement as HTMLButtonElement);
    if (e.key === 'Escape') {
      setOpen(false);
      btn.current?.focus();
      e.stopPropagation();
    } else if (e.key === 'ArrowDown') {
      all[(i + 1) % all.length]?.focus();
      e.preventDefault();
    } else if (e.key === 'ArrowUp') {
      all[(i - 1 + all.length) % all.length]?.focus();
      e.preventDefault();
    }
  };
  return (
    <div className="menu-wrap" ref={ref} onKeyDown={onKey}>
      <button
        ref={btn}
        type="button"
        className={className}
        aria-label={label}
        title={label}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        onClick={(e) => {
          e.stopPropagation();
          setOpen((o) => !o);
        }}
      >
        {icon}
      </button>
      {open && (
        <div className={`menu menu-${align}`} role="menu" id={id} aria-label={label}>
          {items.map((it) => (
            <button
              key={it.label}
              type="button"
              role="menuitem"
              className={it.danger ? 'danger' : undefined}
              onClick={(e) => {
                e.stopPropagation();
                setOpen(false);
                it.onSelect();
              }}
            >
              {it.label}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

/** A modal confirmation dialog (native <dialog>: focus trap and Escape for free). */
export function Confirm({ title, body, confirm, danger, onConfirm, onCancel, extra }: {
  title: string; body?: ReactNode; confirm: string; danger?: boolean; onConfirm: () => void | Promise<void>; onCancel: () => void; extra?: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-label={title} onCancel={(e) => { e.preventDefault(); onCancel(); }}>
      <h2>{title}</h2>
      {body && <div className="dialog-body">{body}</div>}
      {extra}
      {error && <p className="form-error" role="alert">{error}</p>}
      <div className="dialog-actions">
        <button type="button" className="btn-text" onClick={onCancel}>Cancel</button>
        <button
          type="button"
          className={danger ? 'btn-danger' : 'btn-primary'}
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              await onConfirm();
            } catch (e) {
              setError(errorText(e));
              setBusy(false);
            }
          }}
        >
          {confirm}
        </button>
      </div>
    </dialog>
  );
}

/** A header for the sliding panels (new chat, profile, group info...). */
export function PanelHeader({ title, onBack, closeIcon }: { title: string; onBack: () => void; closeIcon?: ReactNode }) {
  return (
    <header className="panel-header">
      <button type="button" className="icon-btn" aria-label="Back" title="Back" onClick={onBack}>
        {closeIcon ?? '←'}
      </button>
      <h2>{title}</h2>
    </header>
  );
}
