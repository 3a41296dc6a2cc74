// Wire profile dispatch for verifying foreign objects: the issuer's profile, chosen by the operator, picks schema and canonical form.
import type { GmObjectType } from './gm-canonical.ts';
import type { PublicKeyInfo } from '../authority/crypto.ts';
import type { Sqlite } from '../db/database.ts';
import { AppError, type ErrorCode } from '../authority/errors.ts';
import { GENESIS_MESH_PROFILE, parseGmObject, verifyGmSignature, type GmAttestation, type GmTreaty, type WireProfile } from './gm-model.ts';
import { lastTreatyProfile, peerProfile } from './profile-store.ts';

/**
 * The profile stored on the treaties recognizing an issuer (the most recently issued one decides, as
 * in `recognizedIssuer`); null when there are none. The profile is never inferred from an object.
 */
export function profileOfTreaties(treaties: ReadonlyArray<{ issuedAt: string; profile?: string }>): string | null {
  const latest = treaties.reduce<(typeof treaties)[number] | undefined>(
    (best, t) => (!best || t.issuedAt >= best.issuedAt ? t : best),
    undefined,
  );
  return latest?.profile ?? null;
}

/**
 * An issuer's wire profile: the one the operator chose when registering it as a peer, else the one
 * of the treaty recognizing it (`treatyProfile`, from the treaties in force), else — when no treaty is
 * in force any more — the one of the most recently issued treaty for it, revoked or expired: a
 * sovereign once recognized under genesis-mesh keeps being read as genesis-mesh, so its objects get
 * the answer of a recognized-then-revoked issuer, not accord/1 schema errors. Else accord/1.
 */
export function wireProfileOf(sqlite: Sqlite, issuer: string, treatyProfile: string | null | undefined): WireProfile {
  const chosen = peerProfile(sqlite, issuer) ?? treatyProfile ?? lastTreatyProfile(sqlite, issuer);
  return chosen === GENESIS_MESH_PROFILE ? GENESIS_MESH_PROFILE : 'accord/1';
}

/** The issuer id of a not yet validated object, to look its profile up before choosing a schema. */
export function claimedIssuer(raw: unknown): string | null {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const issuer = (raw as Record<string, unknown>).issuer_sovereign_id;
  return typeof issuer === 'string' ? issuer : null;
}

function parseStrict<T extends 'recognition_treaty' | 'membership_attestation'>(type: T, raw: unknown, code: ErrorCode, message: string) {
  const parsed = parseGmObject(type, raw);
  if (!parsed.ok) throw new AppError(code, message, { profile: GENESIS_MESH_PROFILE, reason: parsed.reason, issues: parsed.issues });
  return parsed.value;
}

/** A GM treaty as parsed (validated; verify signatures over the raw object, which keeps number texts). */
export function parseGmTreaty(raw: unknown): GmTreaty {
  return parseStrict('recognition_treaty', raw, 'invalid_treaty', 'treaty failed validation (genesis-mesh profile)');
}

export function parseGmAttestation(raw: unknown): GmAttestation {
  return parseStrict('membership_attestation', raw, 'invalid_attestation', 'attestation failed validation (genesis-mesh profile)');
}

/** key_ids of every allowed key with a valid genesis-mesh signature on the object. */
export function gmValidSigners(object: Record<string, unknown>, type: GmObjectType, keys: PublicKeyInfo[]): string[] {
  const signers: string[] = [];
  let remaining = keys;
  while (remaining.length > 0) {
    const check = verifyGmSignature(object, type, remaining);
    if (!check.valid) break;
    signers.push(check.keyId);
    remaining = remaining.filter((k) => k.keyId !== check.keyId);
  }
  return signers;
}
