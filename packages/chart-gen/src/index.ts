export type { ChartFile } from './chart';
export { generateChart, generateCharts } from './chart';
export type { PolicyDocument } from './iam';
export { pushPolicy, servingPolicy } from './iam';
export type { ChartOptions, ChartValues } from './values';
export {
  CATWALK_VERSION,
  chartValues,
  grpcHost,
  ingressGroupOrder,
  specHash,
  startupBudgetSeconds,
} from './values';
export { valuesJsonSchema } from './values-schema';
