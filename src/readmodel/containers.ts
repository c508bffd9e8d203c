import definitions from '../../database/cosmos/containers.json' with { type: 'json' };
import type { ContainerDef } from '../projections/port.ts';

/**
 * The app's container definitions from database/cosmos/containers.json (the only place
 * they live), handed to the projection store when it is opened.
 */
export const containerDefs: ContainerDef[] = definitions.containers as ContainerDef[];

/**
 * Autoscale maximum RU/s shared by every container without its own (Cosmos database-level
 * throughput); undefined when each container has its own.
 */
export const sharedAutoscaleMaxThroughput: number | undefined = (
  definitions as { sharedAutoscaleMaxThroughput?: number }
).sharedAutoscaleMaxThroughput;

export function containerDef(name: string): ContainerDef | undefined {
  return containerDefs.find((c) => c.name === name);
}
