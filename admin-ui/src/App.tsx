// Top level: the session (login / not-admin screens), the left navigation and the current page.
import { useMemo, useState, type ReactNode } from 'react';
import { adminApi } from './api/admin';
import { ApiClient } from './api/client';
import { ApiContext } from './api/context';
import type { Profile } from './api/types';
import { PAGES, useHashPage, type PageId } from './lib/router';
import { LoginPage, NotAdminPage } from './pages/Login';
import { DashboardPage } from './pages/Dashboard';
import { UsersPage } from './pages/users/UsersPage';
import { InvitesPage } from './pages/Invites';
import { DirectoryPage } from './pages/directory/DirectoryPage';
import { LdapPage } from './pages/ldap/LdapPage';
import { FederationPage } from './pages/federation/FederationPage';
import { BackupsPage } from './pages/Backups';
import { AuditPage } from './pages/Audit';
import { SettingsPage } from './pages/Settings';

const VIEWS: Record<PageId, () => ReactNode> = {
  dashboard: () => <DashboardPage />,
  users: () => <UsersPage />,
  invites: () => <InvitesPage />,
  directory: () => <DirectoryPage />,
  ldap: () => <LdapPage />,
  federation: () => <FederationPage />,
  backups: () => <BackupsPage />,
  audit: () => <AuditPage />,
  settings: () => <SettingsPage />,
};

export function App() {
  const [expired, setExpired] = useState(false);
  const [client] = useState(() => new ApiClient({
    onSignedOut: () => { setUser(null); setExpired(true); },
    // The role was taken away meanwhile: show the not-an-administrator screen.
    onForbidden: () => setUser((u) => (u ? { ...u, is_admin: false } : u)),
  }));
  // Starts from the stored session, so a reload stays logged in.
  const [user, setUser] = useState<Profile | null>(() => client.user);
  const api = useMemo(() => adminApi(client), [client]);
  const page = useHashPage();

  const logout = async () => {
    await client.logout();
    setExpired(false);
    setUser(null);
  };

  if (!user) {
    return (
      <LoginPage
        notice={expired ? 'Your session ended. Please log in again.' : null}
        onLogin={async (login, password) => {
          setUser(await client.login(login, password));
          setExpired(false);
        }}
      />
    );
  }
  if (!user.is_admin) return <NotAdminPage user={user} onLogout={logout} />;

  const current = PAGES.find((p) => p.id === page)!;
  return (
    <ApiContext.Provider value={{ api, me: user }}>
      <a className="skip-link" href="#main">Skip to content</a>
      <div className="shell">
        <aside className="sidebar">
          <div className="brand">Parley <span>admin</span></div>
          <nav aria-label="Console">
            <ul>
              {PAGES.map((p) => (
                <li key={p.id}>
                  <a href={`#/${p.id}`} aria-current={p.id === page ? 'page' : undefined}>{p.label}</a>
                </li>
              ))}
            </ul>
          </nav>
          <div className="sidebar-foot">
            <span className="muted" title={user.user_id}>{user.display_name || user.username}</span>
            <button type="button" className="btn btn-small" onClick={logout}>Log out</button>
          </div>
        </aside>
        <main id="main" className="content" tabIndex={-1} aria-label={current.label}>
          {/* key: a page switch starts the page afresh (its own loads and form state). */}
          <div key={page}>{VIEWS[page]()}</div>
        </main>
      </div>
    </ApiContext.Provider>
  );
}
