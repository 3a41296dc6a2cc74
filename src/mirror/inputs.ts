// Where a mirror's documents come from: a serving authority's own (the bytes its routes serve), or a database opened read-only by `accord mirror`.
import { ChangeBus } from '../authority/changes.ts';
import type { Clock } from '../authority/clock.ts';
import type { AppDeps, AuthorityIdentity } from '../authority/context.ts';
import { buildDeclaration, currentDeclaration } from '../authority/declaration.ts';
import { connectomeReaderFor } from '../connectome/reader.ts';
import { ConnectomeService } from '../connectome/service.ts';
import type { Database } from '../db/database.ts';
import { currentGmSnapshot } from '../feeds/gm-publish.ts';
import type { MirrorInputs } from './mirror.ts';

/** A serving authority's inputs: the declaration, snapshot and connectome build its routes serve, so the mirror's bytes are theirs. */
export function authorityMirrorInputs(deps: AppDeps, extraFiles?: MirrorInputs['extraFiles']): MirrorInputs {
  const reader = connectomeReaderFor(deps);
  return {
    ...(extraFiles ? { extraFiles } : {}),
    sqlite: deps.db.sqlite,
    declaration: () => JSON.stringify(currentDeclaration(deps)),
    gmSnapshot: () => currentGmSnapshot(deps)?.bytes ?? null,
    connectome: async () => {
      const document = await reader.document();
      return { etag: document.etag, body: document.body, gzip: () => document.gzip() };
    },
  };
}

/**
 * Inputs from a database opened by a command, read-only (a server may be running on it). Feeds,
 * checkpoints, tiles and the Genesis Mesh snapshot (signed deterministically) come out byte for byte
 * as the server serves them; the declaration is signed now and the connectome built now, so their
 * `issued_at` and `generated_at` are this run's.
 */
export function databaseMirrorInputs(
  db: Database,
  identity: AuthorityIdentity,
  clock: Clock,
  maxPathLength: number,
  extraFiles?: MirrorInputs['extraFiles'],
): MirrorInputs {
  const declaration = JSON.stringify(buildDeclaration({ identity, clock }));
  const connectome = new ConnectomeService({
    db,
    identity,
    clock,
    config: { maxPathLength },
    changes: new ChangeBus(),
    background: [],
  });
  return {
    ...(extraFiles ? { extraFiles } : {}),
    sqlite: db.sqlite,
    declaration: () => declaration,
    gmSnapshot: () => currentGmSnapshot({ db, identity })?.bytes ?? null,
    connectome: async () => {
      const current = connectome.get();
      return { etag: current.etag, body: current.body, gzip: () => current.gzip() };
    },
  };
}
