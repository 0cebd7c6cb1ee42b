// The composer: a draft per chat, replying and editing, typing notifications, attaching files
// (button or paste), Enter to send.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { Message, Profile } from '../api/types';
import type { ChatData } from '../state/logic';
import { app, errorText } from '../state/store';
import { Quote } from './Bubbles';
import { displayName } from './format';
import { IconAttach, IconClose, IconSend } from './icons';

/** Unsent text per chat, kept while switching chats. */
const drafts = new Map<string, string>();

export function Composer({ chat, me, profiles, replyTo, editing, onCancelReply, onCancelEdit, onFiles }: {
  chat: ChatData; me: string; profiles: Record<string, Profile>; replyTo: Message | null; editing: Message | null;
  onCancelReply: () => void; onCancelEdit: () => void; onFiles: (files: File[]) => void;
}) {
  const fileInput = useRef<HTMLInputElement>(null);
  const id = chat.summary.chat_id;
  const [text, setText] = useState(() => drafts.get(id) ?? '');
  const [saved, setSaved] = useState<string | null>(null);
  const ta = useRef<HTMLTextAreaElement>(null);
  const typingSent = useRef(0);
  const stopTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const name = (u: string) => displayName(u, profiles, me);

  useEffect(() => {
    if (editing) {
      setSaved(text);
      setText(editing.text ?? '');
      ta.current?.focus();
    } else if (saved !== null) {
      setText(saved);
      setSaved(null);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [editing]);
  useEffect(() => {
    if (replyTo) ta.current?.focus();
  }, [replyTo]);
  useEffect(() => {
    ta.current?.focus();
    return () => {
      if (stopTimer.current) clearTimeout(stopTimer.current);
      if (typingSent.current) app.typing(id, false);
    };
  }, [id]);
  useLayoutEffect(() => {
    const el = ta.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = Math.min(el.scrollHeight, 140) + 'px';
  }, [text]);

  const stopTyping = () => {
    if (stopTimer.current) clearTimeout(stopTimer.current);
    stopTimer.current = null;
    if (typingSent.current) {
      typingSent.current = 0;
      app.typing(id, false);
    }
  };
  const onInput = (v: string) => {
    setText(v);
    if (!editing) drafts.set(id, v);
    if (editing) return;
    if (!v.trim()) return stopTyping();
    const now = Date.now();
    if (now - typingSent.current > 3000) {
      typingSent.current = now;
      app.typing(id, true);
    }
    if (stopTimer.current) clearTimeout(stopTimer.current);
    stopTimer.current = setTimeout(stopTyping, 5000);
  };
  const submit = async () => {
    const v = text.trim();
    if (!v) return;
    if (editing) {
      if (v === editing.text) return onCancelEdit();
      try {
        await app.edit(id, editing.seq, v);
        onCancelEdit();
      } catch (e) {
        app.toast(`Could not edit: ${errorText(e)}`);
      }
      return;
    }
    app.send(id, v, replyTo?.seq);
    setText('');
    drafts.delete(id);
    stopTyping();
    onCancelReply();
  };

  return (
    <footer className="composer">
      {replyTo && (
        <div className="compose-context" aria-label="Replying to">
          <Quote m={replyTo} name={name} />
          <button type="button" className="icon-btn" aria-label="Cancel reply" title="Cancel reply" onClick={onCancelReply}><IconClose /></button>
        </div>
      )}
      {editing && (
        <div className="compose-context editing" aria-label="Editing message">
          <div className="quote"><span className="quote-name">Edit message</span><span className="quote-text">{editing.text}</span></div>
          <button type="button" className="icon-btn" aria-label="Cancel edit" title="Cancel edit" onClick={onCancelEdit}><IconClose /></button>
        </div>
      )}
      <div className="compose-row">
        <button type="button" className="icon-btn" aria-label="Attach" title="Attach photos and files" disabled={!!editing}
          onClick={() => fileInput.current?.click()}>
          <IconAttach />
        </button>
        <input ref={fileInput} type="file" multiple hidden data-testid="file-input"
          onChange={(e) => {
            const files = Array.from(e.target.files ?? []);
            e.target.value = '';
            if (files.length) onFiles(files);
          }} />
        <textarea
          ref={ta}
          rows={1}
          aria-label="Type a message"
          placeholder="Type a message"
          value={text}
          onChange={(e) => onInput(e.target.value)}
          onBlur={() => { if (!text.trim()) stopTyping(); }}
          onPaste={(e) => {
            // Pasted pictures (screenshots) or files go through the attach step.
            const files = Array.from(e.clipboardData?.files ?? []);
            if (files.length && !editing) {
              e.preventDefault();
              onFiles(files);
            }
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              submit();
            } else if (e.key === 'Escape') {
              if (editing) onCancelEdit();
              else if (replyTo) onCancelReply();
            }
          }}
        />
        <button type="button" className="icon-btn send-btn" aria-label={editing ? 'Save edit' : 'Send'} title={editing ? 'Save edit' : 'Send'} disabled={!text.trim()} onClick={submit}>
          <IconSend />
        </button>
      </div>
    </footer>
  );
}
