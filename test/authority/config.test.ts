// Configuration from the environment (SPEC §9): defaults, and one clear error naming each bad variable.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, defaultConfig, loadConfig } from '../../src/authority/config.ts';
import { testKey } from '../helpers/authority.ts';

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      dataDir: path.resolve('data'),
      dbPath: path.resolve('data', 'accord.db'),
      host: '127.0.0.1',
      port: 8443,
      sovereignId: undefined,
      signingKeyFile: path.resolve('data', 'authority-signing-key.json'),
      operatorPublicKeysJson: undefined,
      operatorKeysFile: undefined,
      feedPublishCron: '*/5 * * * *',
      feedPullCron: '* * * * *',
      feedNextUpdateSeconds: 86400,
      peerDeclarationIntervalSeconds: 3600,
      clockSkewSeconds: 300,
      validitySkewSeconds: 0,
      adminWindowSeconds: 300,
      maxPathLength: 3,
      maxTreatyValidityDays: 398,
      metricsToken: undefined,
      adminFailureLimit: 20,
      witnesses: [],
      logLevel: 'info',
    });
  });

  it('reads every variable and resolves paths', () => {
    const key = testKey('config');
    const config = loadConfig({
      ACCORD_DATA_DIR: '/srv/accord',
      ACCORD_DB_PATH: 'db/main.db',
      ACCORD_HOST: '0.0.0.0',
      ACCORD_PORT: '9000',
      ACCORD_SOVEREIGN_ID: 'sovereign.a:1',
      ACCORD_SIGNING_KEY_FILE: '/keys/na.json',
      OPERATOR_PUBLIC_KEYS_JSON: JSON.stringify({ alice: key.publicKey }),
      ACCORD_OPERATOR_KEYS_FILE: import.meta.filename,
      ACCORD_FEED_PUBLISH_CRON: '0 * * * *',
      ACCORD_FEED_PULL_CRON: '*/2 * * * *',
      ACCORD_FEED_NEXT_UPDATE_S: '3600',
      ACCORD_PEER_DECLARATION_INTERVAL_S: '600',
      ACCORD_CLOCK_SKEW_S: '60',
      ACCORD_VALIDITY_SKEW_S: '30',
      ACCORD_ADMIN_WINDOW_S: '120',
      ACCORD_MAX_PATH_LENGTH: '5',
      ACCORD_MAX_TREATY_VALIDITY_DAYS: '90',
      ACCORD_METRICS_TOKEN: 'a-long-enough-token',
      ACCORD_ADMIN_FAILURE_LIMIT: '5',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      dataDir: '/srv/accord',
      dbPath: path.resolve('db/main.db'),
      host: '0.0.0.0',
      port: 9000,
      sovereignId: 'sovereign.a:1',
      signingKeyFile: '/keys/na.json',
      operatorKeysFile: import.meta.filename,
      feedPublishCron: '0 * * * *',
      feedPullCron: '*/2 * * * *',
      feedNextUpdateSeconds: 3600,
      peerDeclarationIntervalSeconds: 600,
      clockSkewSeconds: 60,
      validitySkewSeconds: 30,
      adminWindowSeconds: 120,
      maxPathLength: 5,
      maxTreatyValidityDays: 90,
      metricsToken: 'a-long-enough-token',
      adminFailureLimit: 5,
      logLevel: 'debug',
    });
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ ACCORD_PORT: '', LOG_LEVEL: '' })).toMatchObject({ port: 8443, logLevel: 'info' });
  });

  it('accepts IPv6 hosts and port 0 (any free port)', () => {
    expect(loadConfig({ ACCORD_HOST: '::1', ACCORD_PORT: '0' })).toMatchObject({ host: '::1', port: 0 });
    for (const host of ['accord.example.org', 'localhost', 'fe80::1', '::ffff:127.0.0.1', '::'])
      expect(loadConfig({ ACCORD_HOST: host }).host).toBe(host);
  });

  it.each([
    ['ACCORD_PORT', 'abc'],
    ['ACCORD_PORT', '65536'],
    ['ACCORD_PORT', '-1'],
    ['ACCORD_PORT', '80.5'],
    ['ACCORD_HOST', 'http://localhost'],
    ['ACCORD_HOST', 'local host'],
    ['ACCORD_HOST', '127.0.0.1/x'],
    ['ACCORD_HOST', '127.0.0.1:8443'],
    ['ACCORD_SOVEREIGN_ID', 'has space'],
    ['ACCORD_SOVEREIGN_ID', '-leading-dash'],
    ['ACCORD_SOVEREIGN_ID', 'x'.repeat(129)],
    ['ACCORD_FEED_PUBLISH_CRON', 'every five minutes'],
    ['ACCORD_FEED_PULL_CRON', '61 * * * *'],
    ['ACCORD_FEED_NEXT_UPDATE_S', '10'],
    ['ACCORD_CLOCK_SKEW_S', 'five'],
    ['ACCORD_CLOCK_SKEW_S', '3601'],
    ['ACCORD_VALIDITY_SKEW_S', '-5'],
    ['ACCORD_VALIDITY_SKEW_S', '3601'],
    ['ACCORD_ADMIN_WINDOW_S', '0'],
    ['ACCORD_MAX_PATH_LENGTH', '17'],
    ['ACCORD_MAX_TREATY_VALIDITY_DAYS', '0'],
    ['ACCORD_ADMIN_FAILURE_LIMIT', '0'],
    ['ACCORD_METRICS_TOKEN', 'short'],
    ['ACCORD_METRICS_TOKEN', 'has spaces in the token'],
    ['LOG_LEVEL', 'loud'],
    ['LOG_LEVEL', 'INFO'],
    ['OPERATOR_PUBLIC_KEYS_JSON', 'not json'],
    ['OPERATOR_PUBLIC_KEYS_JSON', '["a list"]'],
    ['OPERATOR_PUBLIC_KEYS_JSON', '{"alice":"not-base64"}'],
    ['OPERATOR_PUBLIC_KEYS_JSON', `{"alice":"${Buffer.alloc(32).toString('base64')}"}`],
    ['OPERATOR_PUBLIC_KEYS_JSON', '{"bad label":"AAAA"}'],
    ['ACCORD_OPERATOR_KEYS_FILE', '/nonexistent/operator-keys.json'],
  ])('refuses %s=%j with one line naming the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^invalid configuration: /);
    expect(message).toContain(name);
    expect(message).not.toContain('\n');
  });

  it('never echoes the metrics token in an error', () => {
    expect(() => loadConfig({ ACCORD_METRICS_TOKEN: 'secret-ish' })).toThrow(/^(?!.*secret-ish).*ACCORD_METRICS_TOKEN/);
  });

  it('every variable is documented in docs/configuration.md and ops/accord.env.example', () => {
    const root = path.join(import.meta.dirname, '..', '..');
    const doc = fs.readFileSync(path.join(root, 'docs', 'configuration.md'), 'utf8');
    const example = fs.readFileSync(path.join(root, 'ops', 'accord.env.example'), 'utf8');
    expect(CONFIG_VARIABLES.length).toBeGreaterThanOrEqual(18);
    for (const name of CONFIG_VARIABLES) {
      expect(doc, name).toContain(`| \`${name}\` |`);
      expect(example, name).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
    }
  });

  it('the example environment file is itself valid configuration', () => {
    const example = fs.readFileSync(path.join(import.meta.dirname, '..', '..', 'ops', 'accord.env.example'), 'utf8');
    const env = Object.fromEntries(
      example
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(Object.keys(env).length).toBeGreaterThan(10);
    expect(() => loadConfig(env)).not.toThrow();
  });

  it('defaultConfig applies overrides on top of the defaults', () => {
    expect(defaultConfig({ port: 1234, logLevel: 'silent' })).toMatchObject({
      port: 1234,
      logLevel: 'silent',
      host: '127.0.0.1',
      adminWindowSeconds: 300,
    });
  });
});
