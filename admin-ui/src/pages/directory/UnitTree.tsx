// The unit tree with create / rename / delete. Nested lists keep it navigable with Tab.
import { useMemo, useState, type FormEvent } from 'react';
import { useApi } from '../../api/context';
import type { Unit } from '../../api/types';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { ErrorText, Field, SourceBadge } from '../../components/ui';
import { useAction } from '../../lib/hooks';
import { buildUnitTree, type UnitNode } from '../../lib/tree';

type Edit = { kind: 'create'; parent: Unit | null } | { kind: 'rename'; unit: Unit } | { kind: 'delete'; unit: Unit } | null;

export function UnitsPanel({ units, onChanged }: { units: Unit[]; onChanged: () => void }) {
  const roots = useMemo(() => buildUnitTree(units), [units]);
  const [edit, setEdit] = useState<Edit>(null);
  const { api } = useApi();
  return (
    <section className="card" aria-labelledby="units-title">
      <div className="card-head">
        <h2 id="units-title">Units</h2>
        <button type="button" className="btn btn-small btn-primary" onClick={() => setEdit({ kind: 'create', parent: null })}>New unit</button>
      </div>
      {roots.length === 0 ? <p className="muted">No units yet.</p> : (
        <ul className="tree" aria-label="Unit tree">
          {roots.map((n) => <UnitItem key={n.unit.unit_id} node={n} onEdit={setEdit} />)}
        </ul>
      )}
      {edit?.kind === 'create' && (
        <NameDialog title={edit.parent ? `New unit in ${edit.parent.name}` : 'New unit'} initial="" confirm="Create unit"
          onClose={() => setEdit(null)}
          onSave={async (name) => { await api.createUnit(name, edit.parent?.unit_id); onChanged(); }} />
      )}
      {edit?.kind === 'rename' && (
        <NameDialog title={`Rename ${edit.unit.name}`} initial={edit.unit.name} confirm="Rename"
          onClose={() => setEdit(null)}
          onSave={async (name) => { await api.renameUnit(edit.unit.unit_id, name); onChanged(); }} />
      )}
      {edit?.kind === 'delete' && (
        <ConfirmDialog title={`Delete unit ${edit.unit.name}?`} confirmLabel="Delete unit" danger onClose={() => setEdit(null)}
          onConfirm={async () => { await api.deleteUnit(edit.unit.unit_id); onChanged(); }}>
          <p>Only an empty unit can be deleted: move its users and sub-units first.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function UnitItem({ node, onEdit }: { node: UnitNode; onEdit: (e: Edit) => void }) {
  const u = node.unit;
  const ro = u.source === 'ldap';
  return (
    <li>
      <div className="tree-row" data-testid="unit-row">
        <span className="tree-name">{u.name}</span>
        <span className="muted small" title="users in this unit / including sub-units">
          {u.user_count} user{u.user_count === 1 ? '' : 's'}{node.totalUsers !== u.user_count && ` (${node.totalUsers} with sub-units)`}
        </span>
        {ro && <SourceBadge source="ldap" />}
        {!ro && (
          <span className="tree-actions">
            <button type="button" className="btn btn-small" onClick={() => onEdit({ kind: 'create', parent: u })} aria-label={`Add unit under ${u.name}`}>Add</button>
            <button type="button" className="btn btn-small" onClick={() => onEdit({ kind: 'rename', unit: u })} aria-label={`Rename ${u.name}`}>Rename</button>
            <button type="button" className="btn btn-small btn-danger" onClick={() => onEdit({ kind: 'delete', unit: u })} aria-label={`Delete ${u.name}`}>Delete</button>
          </span>
        )}
      </div>
      {node.children.length > 0 && (
        <ul>{node.children.map((c) => <UnitItem key={c.unit.unit_id} node={c} onEdit={onEdit} />)}</ul>
      )}
    </li>
  );
}

/** A one-field dialog for a name (units; reused by groups for their name and description). */
export function NameDialog({ title, initial, confirm, onSave, onClose, description }: {
  title: string;
  initial: string;
  confirm: string;
  onSave: (name: string, description: string) => Promise<void>;
  onClose: () => void;
  description?: string;
}) {
  const [name, setName] = useState(initial);
  const [desc, setDesc] = useState(description ?? '');
  const act = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await act.run(async () => { await onSave(name.trim(), desc.trim()); return true; });
    if (ok) onClose();
  };
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit} className="stack">
        <Field label="Name"><input value={name} onChange={(e) => setName(e.target.value)} required autoFocus /></Field>
        {description !== undefined && (
          <Field label="Description"><input value={desc} onChange={(e) => setDesc(e.target.value)} /></Field>
        )}
        <ErrorText error={act.error} />
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>Cancel</button>
          <button type="submit" className="btn btn-primary" disabled={act.busy}>{confirm}</button>
        </div>
      </form>
    </Dialog>
  );
}
