import { type Doc, type PatchOp, ProjectionError } from './port.ts';
import { splitPath } from './validate.ts';

/**
 * Applies patch operations to a copy of a document with Cosmos semantics: set adds or
 * replaces (the parent must exist), incr adds to a number (creating it when missing),
 * remove deletes a property that must exist. Array elements are addressed by index.
 */
export function applyPatch(doc: Doc, ops: PatchOp[]): Doc {
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const op of ops) {
    const segs = splitPath(op.path);
    const last = segs[segs.length - 1] as string;
    let parent: unknown = out;
    for (const s of segs.slice(0, -1)) {
      parent = child(parent, s);
      if (parent === undefined || parent === null || typeof parent !== 'object') {
        throw new ProjectionError('bad_request', `patch path ${op.path}: parent does not exist`);
      }
    }
    const container = parent as Record<string, unknown> | unknown[];
    if (op.op === 'set') setChild(container, last, structuredClone(op.value), op.path);
    else if (op.op === 'incr') {
      const cur = child(container, last);
      if (cur !== undefined && typeof cur !== 'number') {
        throw new ProjectionError('bad_request', `patch path ${op.path}: incr on a non-number`);
      }
      setChild(container, last, (cur ?? 0) + op.value, op.path);
    } else {
      if (child(container, last) === undefined) {
        throw new ProjectionError('bad_request', `patch path ${op.path}: nothing to remove`);
      }
      if (Array.isArray(container)) container.splice(Number(last), 1);
      else delete container[last];
    }
  }
  return out as Doc;
}

function child(parent: unknown, seg: string): unknown {
  if (Array.isArray(parent)) return /^\d+$/.test(seg) ? parent[Number(seg)] : undefined;
  if (parent !== null && typeof parent === 'object')
    return (parent as Record<string, unknown>)[seg];
  return undefined;
}

function setChild(
  parent: Record<string, unknown> | unknown[],
  seg: string,
  value: unknown,
  path: string,
): void {
  if (Array.isArray(parent)) {
    if (seg === '-') parent.push(value);
    else if (/^\d+$/.test(seg) && Number(seg) <= parent.length) parent[Number(seg)] = value;
    else throw new ProjectionError('bad_request', `patch path ${path}: bad array index`);
    return;
  }
  parent[seg] = value;
}
