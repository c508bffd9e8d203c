/**
 * One outbox row as the relay hands it to the applier. The outbox stores any event type
 * and JSON payload; what they mean is the application's catalogue.
 */
export interface OutboxEvent<T extends string = string, P = unknown> {
  id: number;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  eventType: T;
  payload: P;
  createdAt: Date;
  retryCount: number;
}
