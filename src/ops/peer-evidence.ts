// The evidence bundle about one peer: what it declared and served and what we recorded about it, as JSONL with a manifest signed by this authority's key; and its offline verification.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';
import { AuditChainVerifier, type ChainBreak } from '../authority/audit.ts';
import { iterateAuditMentioning } from '../authority/audit-store.ts';
import { canonicalJson, parseJsonStrict } from '../authority/canonical-json.ts';
import { TIMESTAMP_PATTERN, toTimestamp } from '../authority/clock.ts';
import type { AppDeps } from '../authority/context.ts';
import { hashRef, signObject } from '../authority/crypto.ts';
import { AppError } from '../authority/errors.ts';
import { getPeer } from '../feeds/peers.ts';
import { iterateImportedFeeds, readEquivocations } from '../feeds/imported-store.ts';
import { readMirroredTreaties } from '../feeds/peer-store.ts';
import { readDeclarations, readKeyChanges, readPeerWatch } from '../feeds/peer-watch-store.ts';
import { readIssuerLastCheckpoint } from '../transparency/store.ts';
import { listTreaties } from '../treaties/service.ts';
import { verifyCheckpointSignature, type CheckpointSignature, type TrustAnchor } from './checkpoint.ts';

export const BUNDLE_TYPE = 'peer_evidence_bundle';
export const MANIFEST_TYPE = 'peer_evidence_manifest';

/** Kinds of records in a bundle, besides the audit events (which are lines in their stored form). */
export const EVIDENCE_RECORDS = [
  'peer',
  'treaty',
  'declaration',
  'key_change',
  'imported_feed',
  'checkpoint',
  'equivocation',
  'mirrored_treaty',
] as const;
export type EvidenceRecord = (typeof EVIDENCE_RECORDS)[number];
const COUNTED = [...EVIDENCE_RECORDS, 'audit_event'] as const;

const timestamp = z.string().regex(TIMESTAMP_PATTERN);
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const bundleHeaderSchema = z.strictObject({
  type: z.literal(BUNDLE_TYPE),
  version: z.literal(1),
  sovereign_id: z.string().min(1).max(128),
  peer: z.string().min(1).max(128),
  created_at: timestamp,
  /** The audit events are those whose stored form contains this JSON string (the peer's id). */
  audit_filter: z.strictObject({ mentions: z.string().min(1).max(130) }),
});

export const manifestSchema = z.strictObject({
  type: z.literal(MANIFEST_TYPE),
  version: z.literal(1),
  sovereign_id: z.string().min(1).max(128),
  peer: z.string().min(1).max(128),
  reason: z.string().max(500).nullable(),
  created_at: timestamp,
  file_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: seq,
  counts: z.strictObject(Object.fromEntries(COUNTED.map((k) => [k, seq])) as Record<(typeof COUNTED)[number], typeof seq>),
  audit: z.strictObject({ first_seq: seq.nullable(), last_seq: seq.nullable(), last_hash: z.string().nullable() }),
  issued_by: z.string(),
  public_key: z.string(),
  signatures: z.array(z.strictObject({ key_id: z.string(), sig: z.string() })).min(1),
});
export type EvidenceManifest = z.infer<typeof manifestSchema>;

export interface EvidenceBundle {
  /** The JSONL text (one JCS value per line, newline-terminated). */
  bundle: string;
  manifest: EvidenceManifest;
}

export function manifestPath(bundleFile: string): string {
  return `${bundleFile}.manifest.json`;
}

/**
 * Builds the bundle from the database as it is now: the peer and its watch state, this authority's
 * treaties for it (the pin and its history), its declarations, key changes, imported feeds, its
 * last verified checkpoint, equivocation evidence, its mirrored treaties, and every audit event that
 * names it; then a manifest over the bytes, signed by this authority's newest signing key.
 */
export function buildEvidenceBundle(deps: AppDeps, id: string, reason: string | null): EvidenceBundle {
  const sqlite = deps.db.sqlite;
  const peer = getPeer(deps, id);
  const createdAt = toTimestamp(deps.clock());
  const lines: string[] = [];
  const counts = Object.fromEntries(COUNTED.map((k) => [k, 0])) as Record<(typeof COUNTED)[number], number>;
  const add = (record: EvidenceRecord, value: Record<string, unknown>) => {
    lines.push(canonicalJson({ record, ...value }));
    counts[record]++;
  };
  const needle = JSON.stringify(id);
  lines.push(
    canonicalJson({
      type: BUNDLE_TYPE,
      version: 1,
      sovereign_id: deps.identity.sovereignId,
      peer: id,
      created_at: createdAt,
      audit_filter: { mentions: needle },
    }),
  );
  // Read in one transaction so the bundle is one instant of the database.
  const audit = sqlite.transaction(() => {
    const watch = readPeerWatch(sqlite, id) ?? null;
    add('peer', { peer: { ...peer }, watch: watch ? { ...watch } : null });
    for (let cursor: string | undefined, page = 0; page < 100; page++) {
      const listed = listTreaties(deps, { subject: id, limit: 500, ...(cursor ? { cursor } : {}) });
      for (const view of listed.treaties) add('treaty', { treaty: view.treaty, revocation: view.revocation, lifecycle: view.lifecycle });
      if (!listed.next_cursor) break;
      cursor = listed.next_cursor;
    }
    for (const d of readDeclarations(sqlite, id)) {
      add('declaration', {
        id: d.id,
        profile: d.profile,
        url: d.url,
        observed_at: d.observed_at,
        last_seen_at: d.last_seen_at,
        body_hash: d.body_hash,
        keys: JSON.parse(d.keys) as unknown,
        signed_by: JSON.parse(d.signed_by) as unknown,
        body: d.body,
      });
    }
    for (const c of readKeyChanges(sqlite, id)) {
      add('key_change', {
        id: c.id,
        kind: c.kind,
        previous_declaration_id: c.previous_declaration_id,
        declaration_id: c.declaration_id,
        appeared: JSON.parse(c.appeared) as unknown,
        disappeared: JSON.parse(c.disappeared) as unknown,
        pinned_key_ids: JSON.parse(c.pinned_key_ids) as unknown,
        detected_at: c.detected_at,
      });
    }
    for (const f of iterateImportedFeeds(sqlite, id)) add('imported_feed', { ...f });
    const checkpoint = readIssuerLastCheckpoint(sqlite, id);
    if (checkpoint !== null) add('checkpoint', { note: checkpoint });
    for (const e of readEquivocations(sqlite).filter((e) => e.issuer_sovereign_id === id)) add('equivocation', { ...e });
    for (const row of readMirroredTreaties(sqlite).filter((r) => r[1] === id)) add('mirrored_treaty', { treaty_id: row[0], body: row[7] });
    let first: number | null = null;
    let last: number | null = null;
    let lastHash: string | null = null;
    for (const [eventSeq, canonical] of iterateAuditMentioning(sqlite, needle)) {
      lines.push(canonical);
      counts.audit_event++;
      first ??= eventSeq;
      last = eventSeq;
      lastHash = (JSON.parse(canonical) as { hash: string }).hash;
    }
    return { first_seq: first, last_seq: last, last_hash: lastHash };
  })();
  const bundle = `${lines.join('\n')}\n`;
  const key = deps.identity.signingKeys[0];
  if (!key) throw new AppError('no_signing_key', 'the authority has no signing key loaded');
  const manifest = signObject(
    {
      type: MANIFEST_TYPE,
      version: 1 as const,
      sovereign_id: deps.identity.sovereignId,
      peer: id,
      reason,
      created_at: createdAt,
      file_sha256: createHash('sha256').update(bundle, 'utf8').digest('hex'),
      bytes: Buffer.byteLength(bundle, 'utf8'),
      counts,
      audit,
      issued_by: key.keyId,
      public_key: key.publicKey,
    },
    [key],
  ) as EvidenceManifest;
  return { bundle, manifest };
}

// ---- Verification (offline, `accord audit-verify BUNDLE`).

export interface EvidenceVerifyReport {
  ok: boolean;
  kind: typeof BUNDLE_TYPE;
  file: string;
  file_sha256: string;
  sovereign_id: string;
  peer: string;
  counts: Record<string, number>;
  audit: { count: number; first_seq: number | null; last_seq: number | null; last_hash: string | null; gaps: number; breaks: ChainBreak[] };
  manifest: null | { file: string; signature: CheckpointSignature; mismatched_fields: string[] };
  failures: string[];
}

/** Whether a file's first line is an evidence bundle header. */
export function isEvidenceBundle(file: string): boolean {
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, 'r');
    // The header is one short line (its ids are at most 128 characters each).
    const head = Buffer.alloc(4096);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    const text = head.subarray(0, n).toString('utf8');
    const end = text.indexOf('\n');
    return (end < 0 ? text : text.slice(0, end)).includes(`"type":"${BUNDLE_TYPE}"`);
  } catch {
    return false;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

function readManifest(file: string): EvidenceManifest {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new AppError('checkpoint_unreadable', `cannot read the evidence manifest ${file}`);
  }
  let value: unknown;
  try {
    value = parseJsonStrict(text);
  } catch {
    throw new AppError('checkpoint_malformed', `evidence manifest ${file} is not valid JSON`);
  }
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError(
      'checkpoint_malformed',
      `evidence manifest ${file} is malformed: ${issue.path.join('.') || 'root'} ${issue.message}`,
    );
  }
  return parsed.data;
}

const LISTED = 100;

/**
 * Verifies a bundle: every line parses; every audit event's hash and each link between consecutive
 * events (gaps are the events that do not name the peer); every audit event names the peer; every
 * declaration and imported feed hashes to the hash recorded with it; and the manifest (default
 * FILE.manifest.json) is signed by a trusted key and matches the file byte for byte and count for count.
 */
export function verifyEvidenceBundle(file: string, options: { manifestFile?: string; anchors?: TrustAnchor[] } = {}): EvidenceVerifyReport {
  if (!fs.existsSync(file)) throw new AppError('export_not_found', `evidence bundle ${file} does not exist`);
  const bytes = fs.readFileSync(file);
  const fileSha256 = createHash('sha256').update(bytes).digest('hex');
  const text = bytes.toString('utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let header: z.infer<typeof bundleHeaderSchema>;
  try {
    const parsed = bundleHeaderSchema.safeParse(parseJsonStrict(lines[0] ?? ''));
    if (!parsed.success) throw new Error(parsed.error.issues[0]!.message);
    header = parsed.data;
  } catch (err) {
    throw new AppError('export_malformed', `line 1: not an evidence bundle header (${(err as Error).message})`);
  }
  const failures: string[] = [];
  const fail = (message: string) => {
    if (failures.length < LISTED) failures.push(message);
  };
  const counts = Object.fromEntries(COUNTED.map((k) => [k, 0])) as Record<string, number>;
  const chain = new AuditChainVerifier({ maxListedGaps: LISTED });
  lines.slice(1).forEach((line, i) => {
    const lineNo = i + 2;
    let value: Record<string, unknown>;
    try {
      value = parseJsonStrict(line) as Record<string, unknown>;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    } catch {
      fail(`line ${lineNo}: not a JSON object`);
      return;
    }
    const record = value.record;
    if (record === undefined) {
      counts.audit_event!++;
      chain.push(value);
      if (!line.includes(header.audit_filter.mentions))
        fail(`line ${lineNo}: audit event seq ${String(value.seq)} does not name ${header.peer}`);
      return;
    }
    if (typeof record !== 'string' || !(EVIDENCE_RECORDS as readonly string[]).includes(record)) {
      fail(`line ${lineNo}: unknown record ${JSON.stringify(record)}`);
      return;
    }
    counts[record]!++;
    if (record === 'declaration' && (typeof value.body !== 'string' || hashRef(value.body) !== value.body_hash))
      fail(`line ${lineNo}: declaration ${String(value.id)} does not hash to its body_hash`);
    if (record === 'imported_feed' && (typeof value.body !== 'string' || hashRef(value.body) !== value.feed_hash))
      fail(`line ${lineNo}: imported feed ${String(value.sequence)} does not hash to its feed_hash`);
  });
  const chainReport = chain.result();
  for (const b of chainReport.breaks.slice(0, LISTED))
    fail(`audit event ${b.seq === null ? '' : `seq ${b.seq} `}(event ${b.line}): ${b.reason.replace(/_/g, ' ')}`);

  let manifestReport: EvidenceVerifyReport['manifest'] = null;
  const manifestFile = options.manifestFile ?? manifestPath(file);
  const manifest = readManifest(manifestFile);
  const mismatched: string[] = [];
  const expect: Array<[string, unknown, unknown]> = [
    ['file_sha256', manifest.file_sha256, fileSha256],
    ['bytes', manifest.bytes, bytes.length],
    ['sovereign_id', manifest.sovereign_id, header.sovereign_id],
    ['peer', manifest.peer, header.peer],
    ['created_at', manifest.created_at, header.created_at],
    ['counts', canonicalJson(manifest.counts), canonicalJson(counts)],
    ['audit.first_seq', manifest.audit.first_seq, chainReport.firstSeq],
    ['audit.last_seq', manifest.audit.last_seq, chainReport.lastSeq],
    ['audit.last_hash', manifest.audit.last_hash, chainReport.lastHash],
  ];
  const manifestFailures: string[] = [];
  for (const [field, claimed, actual] of expect) {
    if (claimed !== actual) {
      mismatched.push(field);
      manifestFailures.push(`manifest: ${field} is ${String(claimed)} but the bundle has ${String(actual)}`);
    }
  }
  const signature = verifyCheckpointSignature(manifest, options.anchors ?? []);
  if (signature.status !== 'valid') manifestFailures.push(`manifest signature: ${signature.detail}`);
  manifestReport = { file: manifestFile, signature, mismatched_fields: mismatched };

  const all = [...manifestFailures, ...failures];
  return {
    ok: all.length === 0 && chainReport.ok,
    kind: BUNDLE_TYPE,
    file,
    file_sha256: fileSha256,
    sovereign_id: header.sovereign_id,
    peer: header.peer,
    counts,
    audit: {
      count: chainReport.count,
      first_seq: chainReport.firstSeq,
      last_seq: chainReport.lastSeq,
      last_hash: chainReport.lastHash,
      gaps: chainReport.gaps.length + (chainReport.omittedGaps ?? 0),
      breaks: chainReport.breaks,
    },
    manifest: manifestReport,
    failures: all,
  };
}
