// Identifiers of sovereigns and subjects: one pattern for every surface (configuration, treaties, feeds, routes).
import { z } from 'zod';

export const IDENTIFIER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const identifier = z.string().regex(IDENTIFIER_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$');
