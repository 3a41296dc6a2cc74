// Configuration from the environment, validated with zod at start-up (SPEC §9).
import fs from 'node:fs';
import path from 'node:path';
import cron from 'node-cron';
import { z } from 'zod';
import { IDENTIFIER_PATTERN, identifier } from './identifiers.ts';
import { parseOperatorPublicKeysJson } from './operator-keys.ts';
import { parseWitnessesJson, type ConfiguredWitness } from './witness-config.ts';

const intFrom = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

const cronExpression = z.string().refine((v) => cron.validate(v), 'must be a valid cron expression');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Variables whose values are never echoed in an error message. */
const SECRET_VARIABLES = new Set(['ACCORD_METRICS_TOKEN']);

const envSchema = z.object({
  ACCORD_DATA_DIR: z.string().min(1).default('./data'),
  ACCORD_DB_PATH: z.string().min(1).optional(),
  ACCORD_HOST: z
    .string()
    .regex(
      /^(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*)$/,
      'must be a host name or an IP address (no scheme, no port)',
    )
    .default('127.0.0.1'),
  ACCORD_PORT: intFrom(0, 65535).default(8443),
  ACCORD_SOVEREIGN_ID: identifier.optional(),
  ACCORD_SIGNING_KEY_FILE: z.string().min(1).optional(),
  OPERATOR_PUBLIC_KEYS_JSON: z.string().min(1).optional(),
  ACCORD_OPERATOR_KEYS_FILE: z.string().min(1).optional(),
  ACCORD_FEED_PUBLISH_CRON: cronExpression.default('*/5 * * * *'),
  ACCORD_FEED_PULL_CRON: cronExpression.default('* * * * *'),
  ACCORD_FEED_NEXT_UPDATE_S: intFrom(60, 30 * 86400).default(86400),
  ACCORD_PEER_DECLARATION_INTERVAL_S: intFrom(1, 7 * 86400).default(3600),
  ACCORD_CLOCK_SKEW_S: intFrom(0, 3600).default(300),
  ACCORD_VALIDITY_SKEW_S: intFrom(0, 3600).default(0),
  ACCORD_ADMIN_WINDOW_S: intFrom(1, 3600).default(300),
  ACCORD_MAX_PATH_LENGTH: intFrom(1, 16).default(3),
  ACCORD_MAX_TREATY_VALIDITY_DAYS: intFrom(1, 3650).default(398),
  ACCORD_METRICS_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
  ACCORD_ADMIN_FAILURE_LIMIT: intFrom(1, 10_000).default(20),
  ACCORD_LOG_ORIGIN: z
    .string()
    .regex(/^[\x21-\x2a\x2c-\x7e]{1,255}$/, 'must be 1 to 255 printable ASCII characters without spaces or "+"')
    .optional(),
  ACCORD_WITNESS_NAME: z
    .string()
    .regex(/^[\x21-\x2a\x2c-\x7e]{1,255}$/, 'must be 1 to 255 printable ASCII characters without spaces or "+"')
    .optional(),
  ACCORD_WITNESSES_JSON: z.string().optional(),
  ACCORD_MIRROR_DIR: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
});

/** Every environment variable the server reads (docs/configuration.md documents each). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape) as Array<keyof typeof envSchema.shape>;

export interface Config {
  dataDir: string;
  dbPath: string;
  host: string;
  port: number;
  sovereignId: string | undefined;
  signingKeyFile: string;
  operatorPublicKeysJson: string | undefined;
  operatorKeysFile: string | undefined;
  feedPublishCron: string;
  feedPullCron: string;
  feedNextUpdateSeconds: number;
  /** How often the pull job fetches each peer's declaration to watch its keys (seconds). */
  peerDeclarationIntervalSeconds: number;
  clockSkewSeconds: number;
  /** Tolerance on both ends of accord/1 validity windows when verifying (genesis-mesh objects use GM's fixed 5 minutes). */
  validitySkewSeconds: number;
  adminWindowSeconds: number;
  maxPathLength: number;
  maxTreatyValidityDays: number;
  metricsToken: string | undefined;
  adminFailureLimit: number;
  /** Origin line of the revocation log's checkpoints; undefined: derived from the sovereign id. */
  logOrigin: string | undefined;
  /** Key name of this authority's cosignatures as a witness; undefined: `<sovereign id>/witness`. */
  witnessName: string | undefined;
  /** Witnesses this authority submits its log's checkpoints to. */
  witnesses: ConfiguredWitness[];
  /** Directory the server keeps a static mirror of its public files in; undefined: no mirror. */
  mirrorDir: string | undefined;
  logLevel: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the environment; throws a ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const relevant = Object.fromEntries(
    Object.keys(envSchema.shape)
      .filter((k) => env[k] !== undefined && env[k] !== '')
      .map((k) => [k, env[k]]),
  );
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const got = env[name];
    const shown =
      got !== undefined && !SECRET_VARIABLES.has(name) ? ` (got ${JSON.stringify(got.length > 80 ? `${got.slice(0, 80)}…` : got)})` : '';
    throw new ConfigError(`invalid configuration: ${name} ${issue.message}${shown}`);
  }
  const e = parsed.data;
  if (e.OPERATOR_PUBLIC_KEYS_JSON) {
    try {
      parseOperatorPublicKeysJson(e.OPERATOR_PUBLIC_KEYS_JSON);
    } catch (err) {
      throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
    }
  }
  if (e.ACCORD_OPERATOR_KEYS_FILE && !fs.existsSync(e.ACCORD_OPERATOR_KEYS_FILE)) {
    throw new ConfigError(
      `invalid configuration: ACCORD_OPERATOR_KEYS_FILE names a file that does not exist (${e.ACCORD_OPERATOR_KEYS_FILE})`,
    );
  }
  let witnesses: ConfiguredWitness[] = [];
  if (e.ACCORD_WITNESSES_JSON) {
    try {
      witnesses = parseWitnessesJson(e.ACCORD_WITNESSES_JSON);
    } catch (err) {
      throw new ConfigError(`invalid configuration: ACCORD_WITNESSES_JSON ${(err as Error).message}`);
    }
  }
  const dataDir = path.resolve(e.ACCORD_DATA_DIR);
  return {
    dataDir,
    dbPath: path.resolve(e.ACCORD_DB_PATH ?? path.join(dataDir, 'accord.db')),
    host: e.ACCORD_HOST,
    port: e.ACCORD_PORT,
    sovereignId: e.ACCORD_SOVEREIGN_ID,
    signingKeyFile: path.resolve(e.ACCORD_SIGNING_KEY_FILE ?? path.join(dataDir, 'authority-signing-key.json')),
    operatorPublicKeysJson: e.OPERATOR_PUBLIC_KEYS_JSON,
    operatorKeysFile: e.ACCORD_OPERATOR_KEYS_FILE ? path.resolve(e.ACCORD_OPERATOR_KEYS_FILE) : undefined,
    feedPublishCron: e.ACCORD_FEED_PUBLISH_CRON,
    feedPullCron: e.ACCORD_FEED_PULL_CRON,
    feedNextUpdateSeconds: e.ACCORD_FEED_NEXT_UPDATE_S,
    peerDeclarationIntervalSeconds: e.ACCORD_PEER_DECLARATION_INTERVAL_S,
    clockSkewSeconds: e.ACCORD_CLOCK_SKEW_S,
    validitySkewSeconds: e.ACCORD_VALIDITY_SKEW_S,
    adminWindowSeconds: e.ACCORD_ADMIN_WINDOW_S,
    maxPathLength: e.ACCORD_MAX_PATH_LENGTH,
    maxTreatyValidityDays: e.ACCORD_MAX_TREATY_VALIDITY_DAYS,
    metricsToken: e.ACCORD_METRICS_TOKEN,
    adminFailureLimit: e.ACCORD_ADMIN_FAILURE_LIMIT,
    logOrigin: e.ACCORD_LOG_ORIGIN,
    witnessName: e.ACCORD_WITNESS_NAME,
    witnesses,
    mirrorDir: e.ACCORD_MIRROR_DIR ? path.resolve(e.ACCORD_MIRROR_DIR) : undefined,
    logLevel: e.LOG_LEVEL,
  };
}

/** Defaults for tests and embedded use: the same values the environment would give. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({ ACCORD_DATA_DIR: overrides.dataDir ?? './data' }), ...overrides };
}

export const SOVEREIGN_ID_PATTERN = IDENTIFIER_PATTERN;
