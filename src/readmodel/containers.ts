import definitions from '../../database/cosmos/containers.json' with { type: 'json' };
import type { ContainerDef } from '../projections/port.ts';

/**
 * The app's container definitions from database/cosmos/containers.json (the only place
 * they live), handed to the projection store when it is opened.
 */
export const containerDefs: ContainerDef[] = definitions.containers as ContainerDef[];

export function containerDef(name: string): ContainerDef | undefined {
  return containerDefs.find((c) => c.name === name);
}
