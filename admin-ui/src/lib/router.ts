// Hash routing (#/users): the appliance serves one index.html at /admin/, so the page part of
// the URL stays on the client and reloads keep the current page.
import { useEffect, useState } from 'react';

export const PAGES = [
  { id: 'dashboard', label: 'Dashboard' },
  { id: 'users', label: 'Users' },
  { id: 'invites', label: 'Invites' },
  { id: 'directory', label: 'Directory' },
  { id: 'ldap', label: 'LDAP' },
  { id: 'federation', label: 'Federation' },
  { id: 'backups', label: 'Backups' },
  { id: 'audit', label: 'Audit log' },
  { id: 'settings', label: 'Settings' },
] as const;

export type PageId = (typeof PAGES)[number]['id'];

export function pageFromHash(hash: string): PageId {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return (PAGES.find((p) => p.id === id)?.id ?? 'dashboard') as PageId;
}

export function useHashPage(): PageId {
  const [page, setPage] = useState<PageId>(() => pageFromHash(location.hash));
  useEffect(() => {
    const on = () => setPage(pageFromHash(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return page;
}
