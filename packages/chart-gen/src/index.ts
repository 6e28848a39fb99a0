export type { ChartFile } from './chart';
export { generateChart, generateCharts } from './chart';
export type { GroupOptions, GroupPlan, GroupProblem, ModelFootprint } from './groups';
export { ALB_LIMITS, groupName, modelFootprint, planGroups } from './groups';
export type { PolicyDocument } from './iam';
export { pushPolicy, servingPolicy } from './iam';
export type { ChartOptions, ChartValues } from './values';
export {
  CATWALK_VERSION,
  chartValues,
  DATADOG_TF_SERVING_METRICS,
  grpcHost,
  SYNC_IMAGE_REPOSITORY,
  specHash,
  splitImage,
  startupBudgetSeconds,
} from './values';
export { valuesJsonSchema } from './values-schema';
