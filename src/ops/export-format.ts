// The audit export file format: a header line recording whose log it is and the filters that chose its events, then one stored event per line.
import { z } from 'zod';
import { canonicalJson, parseJsonStrict } from '../authority/canonical-json.ts';
import { TIMESTAMP_PATTERN } from '../authority/clock.ts';
import { AppError } from '../authority/errors.ts';

export const EXPORT_FORMATS = ['jsonl', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The filters of an export as recorded in its header and checkpoint: only the ones given, in canonical form. */
export interface ExportFilters {
  event_types?: string[];
  since?: string;
  until?: string;
  actor_key?: string;
  after_seq?: number;
}

const timestamp = z.string().regex(TIMESTAMP_PATTERN);
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const exportFiltersSchema = z.strictObject({
  event_types: z.array(z.string()).optional(),
  since: timestamp.optional(),
  until: timestamp.optional(),
  actor_key: z.string().optional(),
  after_seq: seq.optional(),
});

export const EXPORT_HEADER_TYPE = 'audit_export';
/** Version 2 added the header; version 1 files (no header) are events from the first line on. */
export const EXPORT_VERSION = 2;

export const exportHeaderSchema = z.strictObject({
  type: z.literal(EXPORT_HEADER_TYPE),
  version: z.literal(EXPORT_VERSION),
  sovereign_id: z.string().min(1).max(128),
  filters: exportFiltersSchema,
});

export type ExportHeader = z.infer<typeof exportHeaderSchema>;

/** First line of a version 1 `json` export; each event then sits on its own line, so verification can stream. */
export const JSON_FORMAT_OPEN = '{"events":[';
export const JSON_FORMAT_CLOSE = ']}';
/** How the first line of a version 2 `json` export ends: the header's fields come first in the object. */
const JSON_EVENTS_KEY = ',"events":[';

/**
 * The first line of an export: in `jsonl` the header object (JCS) on its own line; in `json` the
 * same fields opening the document, followed by `"events":[`, so `.events` is still the events.
 */
export function exportHeaderLine(format: ExportFormat, header: Omit<ExportHeader, 'type' | 'version'>): string {
  const text = canonicalJson({
    type: EXPORT_HEADER_TYPE,
    version: EXPORT_VERSION,
    sovereign_id: header.sovereign_id,
    filters: header.filters,
  });
  return format === 'jsonl' ? text : `${text.slice(0, -1)}${JSON_EVENTS_KEY}`;
}

function parseHeader(text: string): ExportHeader {
  let value: unknown;
  try {
    value = parseJsonStrict(text);
  } catch {
    throw new AppError('export_malformed', 'line 1: the export header is not valid JSON');
  }
  const parsed = exportHeaderSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError('export_malformed', `line 1: the export header is malformed: ${issue.path.join('.') || 'root'} ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Reads the first line of an export: its format, and its header (null for a version 1 file, whose
 * first `jsonl` line is already an event). A first line that claims to be a header must be a valid one.
 */
export function readFirstLine(line: string): { format: ExportFormat; header: ExportHeader | null; isEvent: boolean } {
  if (line === JSON_FORMAT_OPEN) return { format: 'json', header: null, isEvent: false };
  if (line.startsWith('{') && line.endsWith(JSON_EVENTS_KEY))
    return { format: 'json', header: parseHeader(`${line.slice(0, -JSON_EVENTS_KEY.length)}}`), isEvent: false };
  let value: unknown = null;
  try {
    value = parseJsonStrict(line);
  } catch {
    // Not JSON: an event line the chain verifier reports as malformed.
  }
  if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === EXPORT_HEADER_TYPE)
    return { format: 'jsonl', header: parseHeader(line), isEvent: false };
  return { format: 'jsonl', header: null, isEvent: true };
}

/** Filters that may leave gaps in the middle of an export. `after_seq` alone only trims the start: a gap there is a deletion. */
export function filtersAllowGaps(filters: ExportFilters): boolean {
  return filters.event_types !== undefined || filters.actor_key !== undefined || filters.since !== undefined || filters.until !== undefined;
}

interface FilterableEvent {
  seq?: unknown;
  event_type?: unknown;
  occurred_at?: unknown;
  actor?: { key_id?: unknown; label?: unknown } | null;
}

/**
 * Why an event could not have been selected by `filters` (the same rules as the export query), or
 * null when it could. An export whose events do not match its own filters was not made with them.
 */
export function filterMismatch(event: FilterableEvent, filters: ExportFilters): string | null {
  if (filters.after_seq !== undefined && typeof event.seq === 'number' && event.seq <= filters.after_seq)
    return `seq is not after ${filters.after_seq}`;
  if (filters.event_types !== undefined && !filters.event_types.includes(String(event.event_type)))
    return `event_type ${JSON.stringify(event.event_type)} is not among the filtered types`;
  const at = typeof event.occurred_at === 'string' ? event.occurred_at : '';
  if (filters.since !== undefined && !(at >= filters.since))
    return `occurred_at ${JSON.stringify(event.occurred_at)} is before --since ${filters.since}`;
  if (filters.until !== undefined && !(at < filters.until))
    return `occurred_at ${JSON.stringify(event.occurred_at)} is not before --until ${filters.until}`;
  if (filters.actor_key !== undefined) {
    const actual = filters.actor_key.startsWith('sha256:') ? event.actor?.key_id : event.actor?.label;
    if (actual !== filters.actor_key) return `the actor is not ${filters.actor_key}`;
  }
  return null;
}
