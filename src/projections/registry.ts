import { type ProjectionContainer, ProjectionError } from './port.ts';

/** A store's container by name; an unknown name is the store's `unknown_container` error. */
export function lookupContainer(
  containers: ReadonlyMap<string, ProjectionContainer>,
  name: string,
): ProjectionContainer {
  const c = containers.get(name);
  if (!c)
    throw new ProjectionError('unknown_container', `unknown container ${JSON.stringify(name)}`);
  return c;
}
