import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../../..');
/** TF Serving's own test data, shared read-only beside the repository. */
export const tfServingTestdata = path.resolve(repoRoot, '../shared/testdata/tfserving');
