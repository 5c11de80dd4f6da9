import mongoose, { Schema, type InferSchemaType, type HydratedDocument } from 'mongoose';

/** A 圏域: one of the prefecture's ten regions, grouping its municipalities. */
const regionSchema = new Schema(
  {
    /** Region name as the prefecture writes it, e.g. 佐久, 上伊那. */
    name: { type: String, required: true, trim: true },
    /** Display order (order of first appearance in the reference data). */
    order: { type: Number, required: true },
  },
  { timestamps: true },
);
regionSchema.index({ name: 1 }, { unique: true });
regionSchema.index({ order: 1 });

export type RegionAttrs = InferSchemaType<typeof regionSchema>;
export type RegionDocument = HydratedDocument<RegionAttrs>;
export const Region = mongoose.model('Region', regionSchema);
