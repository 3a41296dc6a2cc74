// Every table of the product, gathered from the domain folders for drizzle-kit (`npm run db:generate`).
export * from '../authority/schema.ts';
export * from '../treaties/schema.ts';
export * from '../feeds/schema.ts';
export * from '../transparency/schema.ts';
export * from '../witness/schema.ts';
export * from '../follow/schema.ts';
export * from '../gossip/schema.ts';
