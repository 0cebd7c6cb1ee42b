// A <select> of organizational units, indented by depth. Loads the directory itself so every
// form that assigns a unit can use it; if the directory cannot be read it offers "None" only.
import { useMemo } from 'react';
import { useApi } from '../../api/context';
import { buildUnitTree, flattenTree } from '../../lib/tree';
import { useLoad } from '../../lib/hooks';

export function UnitSelect({ value, onChange, id }: { value: string; onChange: (v: string) => void; id?: string }) {
  const { api } = useApi();
  const dir = useLoad(() => api.directory(), []);
  const rows = useMemo(() => flattenTree(buildUnitTree(dir.data?.units ?? [])), [dir.data]);
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)} disabled={!!dir.error && !value}>
      <option value="">None</option>
      {rows.map(({ node, depth }) => (
        <option key={node.unit.unit_id} value={node.unit.unit_id}>
          {'\u00a0\u00a0'.repeat(depth)}{node.unit.name}
        </option>
      ))}
      {/* Keep a unit we cannot list (directory unavailable) selectable as is. */}
      {value && !rows.some((r) => r.node.unit.unit_id === value) && <option value={value}>{value}</option>}
    </select>
  );
}
