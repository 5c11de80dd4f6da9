import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * The regions (圏域) a supervisor takes case studies from, set by an administrator. A supervisor
 * without a record covers the region of their own municipality.
 */
const supervisorCoverageSchema = new Schema(
  {
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    regionIds: { type: [Schema.Types.ObjectId], ref: 'Region', default: [] },
  },
  { timestamps: true },
);
supervisorCoverageSchema.index({ userId: 1 }, { unique: true });

export type SupervisorCoverageAttrs = InferSchemaType<typeof supervisorCoverageSchema>;
export const SupervisorCoverage = mongoose.model(
  'SupervisorCoverage',
  supervisorCoverageSchema,
  'supervisor_coverage',
);
