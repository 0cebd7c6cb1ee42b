// Builds the unit tree from the flat list GET /api/admin/directory answers.
import type { Unit } from '../api/types';

export interface UnitNode {
  unit: Unit;
  children: UnitNode[];
  /** Users in this unit and every unit below it. */
  totalUsers: number;
}

const byName = (a: UnitNode, b: UnitNode) => a.unit.name.localeCompare(b.unit.name);

/**
 * Roots are units without a parent, or whose parent is not in the list (so nothing is lost if
 * the server sends a partial list). A parent cycle cannot hang the UI: units caught in one are
 * shown as roots.
 */
export function buildUnitTree(units: Unit[]): UnitNode[] {
  const nodes = new Map<string, UnitNode>();
  for (const u of units) nodes.set(u.unit_id, { unit: u, children: [], totalUsers: 0 });
  const roots: UnitNode[] = [];
  for (const node of nodes.values()) {
    const pid = node.unit.parent_id;
    const parent = pid ? nodes.get(pid) : undefined;
    if (parent && parent !== node && !isAncestor(node, parent, nodes)) parent.children.push(node);
    else roots.push(node);
  }
  const finish = (list: UnitNode[]): number => {
    list.sort(byName);
    let sum = 0;
    for (const n of list) {
      n.totalUsers = n.unit.user_count + finish(n.children);
      sum += n.totalUsers;
    }
    return sum;
  };
  finish(roots);
  return roots;
}

/** True when `candidate` sits below `node` via parent links (attaching would close a cycle). */
function isAncestor(node: UnitNode, candidate: UnitNode, nodes: Map<string, UnitNode>): boolean {
  const seen = new Set<string>();
  let cur: UnitNode | undefined = candidate;
  while (cur) {
    if (cur === node) return true;
    if (seen.has(cur.unit.unit_id)) return true;
    seen.add(cur.unit.unit_id);
    const pid: string | null | undefined = cur.unit.parent_id;
    cur = pid ? nodes.get(pid) : undefined;
  }
  return false;
}

/** Depth-first order with depth, for flat renderings such as a <select> of units. */
export function flattenTree(roots: UnitNode[], depth = 0): { node: UnitNode; depth: number }[] {
  return roots.flatMap((n) => [{ node: n, depth }, ...flattenTree(n.children, depth + 1)]);
}

/** Each unit's names from the root down ("Engineering › Backend"), built from the tree itself. */
export function unitPaths(roots: UnitNode[], prefix: string[] = [], out = new Map<string, string[]>()): Map<string, string[]> {
  for (const n of roots) {
    const path = [...prefix, n.unit.name];
    out.set(n.unit.unit_id, path);
    unitPaths(n.children, path, out);
  }
  return out;
}
