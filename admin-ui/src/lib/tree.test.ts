import { describe, expect, it } from 'vitest';
import type { Unit } from '../api/types';
import { buildUnitTree, flattenTree, unitPaths } from './tree';

const unit = (unit_id: string, name: string, parent_id: string | null, user_count = 0): Unit =>
  ({ unit_id, name, parent_id, path: [], source: 'local', user_count });

describe('buildUnitTree', () => {
  it('nests children under parents, sorted by name, with user totals', () => {
    const roots = buildUnitTree([
      unit('be', 'Backend', 'eng', 3),
      unit('eng', 'Engineering', null, 1),
      unit('fe', 'Frontend', 'eng', 2),
      unit('sales', 'Sales', null, 4),
      unit('db', 'Databases', 'be', 1),
    ]);
    expect(roots.map((r) => r.unit.name)).toEqual(['Engineering', 'Sales']);
    const eng = roots[0];
    expect(eng.children.map((c) => c.unit.name)).toEqual(['Backend', 'Frontend']);
    expect(eng.children[0].children.map((c) => c.unit.name)).toEqual(['Databases']);
    expect(eng.totalUsers).toBe(7);
    expect(eng.children[0].totalUsers).toBe(4);
    expect(roots[1].totalUsers).toBe(4);
  });

  it('treats a unit whose parent is missing as a root', () => {
    const roots = buildUnitTree([unit('a', 'Orphan', 'gone'), unit('b', 'Root', null)]);
    expect(roots.map((r) => r.unit.name)).toEqual(['Orphan', 'Root']);
  });

  it('survives parent cycles without losing units', () => {
    const roots = buildUnitTree([unit('a', 'A', 'b'), unit('b', 'B', 'a'), unit('c', 'C', 'c')]);
    const all = flattenTree(roots).map((r) => r.node.unit.unit_id).sort();
    expect(all).toEqual(['a', 'b', 'c']);
  });

  it('flattens depth-first with depths', () => {
    const flat = flattenTree(buildUnitTree([unit('p', 'P', null), unit('c', 'C', 'p'), unit('g', 'G', 'c'), unit('q', 'Q', null)]));
    expect(flat.map((r) => `${r.node.unit.name}${r.depth}`)).toEqual(['P0', 'C1', 'G2', 'Q0']);
  });

  it('handles an empty list', () => {
    expect(buildUnitTree([])).toEqual([]);
  });
});

describe('unitPaths', () => {
  it('names every unit from its root down', () => {
    const paths = unitPaths(buildUnitTree([unit('p', 'Eng', null), unit('c', 'Backend', 'p'), unit('g', 'DB', 'c')]));
    expect(paths.get('g')).toEqual(['Eng', 'Backend', 'DB']);
    expect(paths.get('p')).toEqual(['Eng']);
  });
});
