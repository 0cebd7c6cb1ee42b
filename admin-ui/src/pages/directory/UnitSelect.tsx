// A <select> of organizational units, by full path in tree order. Loads the directory itself so every
// form that assigns a unit can use it; if the directory cannot be read it offers "None" only.
import { useMemo } from 'react';
import { useApi } from '../../api/context';
import { buildUnitTree, flattenTree, unitPaths } from '../../lib/tree';
import { useLoad } from '../../lib/hooks';

export function UnitSelect({ value, onChange, id }: { value: string; onChange: (v: string) => void; id?: string }) {
  const { api } = useApi();
  const dir = useLoad(() => api.directory(), []);
  const { rows, paths } = useMemo(() => {
    const roots = buildUnitTree(dir.data?.units ?? []);
    return { rows: flattenTree(roots), paths: unitPaths(roots) };
  }, [dir.data]);
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)} disabled={!!dir.error && !value}>
      <option value="">None</option>
      {/* Full paths rather than indentation: a <select> cannot show a tree, and names repeat. */}
      {rows.map(({ node }) => (
        <option key={node.unit.unit_id} value={node.unit.unit_id}>{paths.get(node.unit.unit_id)!.join(' › ')}</option>
      ))}
      {/* Keep a unit we cannot list (directory unavailable) selectable as is. */}
      {value && !rows.some((r) => r.node.unit.unit_id === value) && <option value={value}>{value}</option>}
    </select>
  );
}
