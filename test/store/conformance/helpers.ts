import { expect } from 'chai';
import { MongoServerError } from 'mongodb';

/** The server error a promise rejects with (fails the test when it resolves). */
export async function serverError(p: Promise<unknown>): Promise<MongoServerError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'expected the server to refuse').to.be.instanceOf(MongoServerError);
  return err as MongoServerError;
}

/** The `_id`s of documents, for order-sensitive comparisons. */
export const ids = (docs: { _id: unknown }[]): unknown[] => docs.map((d) => d._id);
