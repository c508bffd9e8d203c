import definitions from '../../database/cosmos/containers.json' with { type: 'json' };
import type { ContainerDef } from './port.ts';

/** The container definitions from database/cosmos/containers.json (the only place they live). */
export const containerDefs: ContainerDef[] = definitions.containers as ContainerDef[];

export function containerDef(name: string): ContainerDef | undefined {
  return containerDefs.find((c) => c.name === name);
}
