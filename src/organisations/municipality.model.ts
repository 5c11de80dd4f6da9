import mongoose, { Schema, type InferSchemaType, type HydratedDocument } from 'mongoose';

export const MUNICIPALITY_KINDS = ['市', '町', '村'] as const;
export type MunicipalityKind = (typeof MUNICIPALITY_KINDS)[number];

/** A 市町村 of Nagano Prefecture. Names are unique within the prefecture. */
const municipalitySchema = new Schema(
  {
    /** Full name including the suffix, e.g. 長野市, 小海町, 南相木村. */
    name: { type: String, required: true, trim: true },
    kind: { type: String, required: true, enum: MUNICIPALITY_KINDS },
    regionId: { type: Schema.Types.ObjectId, ref: 'Region', required: true },
    /** Display order across the prefecture (order in the reference data). */
    order: { type: Number, required: true },
  },
  { timestamps: true },
);
municipalitySchema.index({ name: 1 }, { unique: true });
municipalitySchema.index({ regionId: 1, order: 1 });

export type MunicipalityAttrs = InferSchemaType<typeof municipalitySchema>;
export type MunicipalityDocument = HydratedDocument<MunicipalityAttrs>;
export const Municipality = mongoose.model('Municipality', municipalitySchema);
