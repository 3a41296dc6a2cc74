// Every table of the product, gathered from the domain folders for drizzle and drizzle-kit.
export * from '../authority/schema.ts';
export * from '../treaties/schema.ts';
export * from '../feeds/schema.ts';
export * from '../transparency/schema.ts';
export * from '../witness/schema.ts';
