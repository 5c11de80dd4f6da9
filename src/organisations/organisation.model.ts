import mongoose, { Schema, type InferSchemaType, type HydratedDocument } from 'mongoose';
import { cleanIfText, withinCharacters } from '../lib/text.js';

/** Sectors an organisation (所属機関) belongs to. */
export const SECTORS = [
  '福祉',
  '教育',
  '保健・医療',
  '就労',
  '行政',
  '民間支援団体',
  'その他',
] as const;
export type Sector = (typeof SECTORS)[number];

/** Most characters (as a reader counts them: src/lib/text.ts) in an organisation's name. */
export const ORGANISATION_NAME_MAX = 100;

/** A 所属機関 under one municipality: a municipal section, a school, a health centre, an NPO… */
const organisationSchema = new Schema(
  {
    name: {
      type: String,
      required: true,
      set: cleanIfText,
      validate: [
        withinCharacters(ORGANISATION_NAME_MAX),
        `at most ${ORGANISATION_NAME_MAX} characters`,
      ],
    },
    sector: { type: String, required: true, enum: SECTORS },
    municipalityId: { type: Schema.Types.ObjectId, ref: 'Municipality', required: true },
  },
  { timestamps: true },
);
// The same name may exist in two municipalities (e.g. 社会福祉協議会), never twice in one.
organisationSchema.index({ municipalityId: 1, name: 1 }, { unique: true });

export type OrganisationAttrs = InferSchemaType<typeof organisationSchema>;
export type OrganisationDocument = HydratedDocument<OrganisationAttrs>;
export const Organisation = mongoose.model('Organisation', organisationSchema);
