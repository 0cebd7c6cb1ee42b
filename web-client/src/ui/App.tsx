import { useEffect } from 'react';
import { app, useApp } from '../state/store';
import { totalUnread } from '../state/logic';
import { AuthScreen } from './AuthScreen';
import { Conversation } from './Conversation';
import { Sidebar } from './Sidebar';

function useTitle() {
  const chats = useApp((s) => s.chats);
  const n = totalUnread(chats);
  useEffect(() => {
    document.title = n > 0 ? `(${n}) Parley` : 'Parley';
  }, [n]);
}

function Main() {
  const open = useApp((s) => s.openChatId);
  useTitle();
  return (
    <div className={`app${open ? ' has-chat' : ''}`}>
      <Sidebar />
      {open ? (
        <Conversation key={open} chatId={open} />
      ) : (
        <main className="conversation empty-conv" aria-label="No chat open">
          <div className="welcome">
            <h1>Parley</h1>
            <p>Pick a chat on the left, or start a new one. Messages stay on your own Parley server.</p>
          </div>
        </main>
      )}
      <Toast />
    </div>
  );
}

function Toast() {
  const toast = useApp((s) => s.toast);
  return (
    <div className="toast-region" role="status" aria-live="polite">
      {toast && (
        <div className="toast" key={toast.id}>
          {toast.text}
          <button type="button" className="link-btn" onClick={() => app.set({ toast: null })}>OK</button>
        </div>
      )}
    </div>
  );
}

export function App() {
  const phase = useApp((s) => s.phase);
  useEffect(() => {
    app.init();
  }, []);
  if (phase === 'starting') return <div className="splash" role="status">Loading Parley…</div>;
  if (phase === 'signed_out') return <AuthScreen />;
  return <Main />;
}
