import { cosmosStore } from '../support/projections.ts';
import { projectionContract } from './contract.ts';

/**
 * The Cosmos adapter on the real @azure/cosmos SDK: against the in-process emulator
 * (@vercel/cosmosdb-server) by default, against a real account when COSMOS_ENDPOINT is set.
 * The emulator has no TTL and no faithful change feed, so those cases need a real account.
 */
const real = Boolean(process.env.COSMOS_ENDPOINT);
const needsAccount =
  'needs a real Cosmos DB account: set COSMOS_ENDPOINT and COSMOS_KEY (the emulator lacks TTL and feed ranges)';

projectionContract(
  real ? 'cosmos (real account)' : 'cosmos (emulator)',
  (opts) => cosmosStore(opts),
  {
    skipChangeFeed: real ? undefined : needsAccount,
    skipTtl: real ? undefined : needsAccount,
  },
);
