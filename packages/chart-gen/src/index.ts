export type { ChartFile } from './chart';
export { generateChart, generateCharts } from './chart';
export type { GroupOptions, GroupPlan, GroupProblem, ModelFootprint } from './groups';
export { ALB_LIMITS, groupName, modelFootprint, planGroups } from './groups';
export type { PolicyDocument } from './iam';
export { pushPolicy, servingPolicy } from './iam';
export type { DatadogArtefacts, DatadogMonitor, DatadogOptions } from './monitoring/datadog';
export { buildDatadog } from './monitoring/datadog';
export type { DatadogMetric } from './monitoring/datadog-metrics';
export { DATADOG_SYNC_METRICS, DATADOG_TF_SERVING_METRICS } from './monitoring/datadog-metrics';
export type { AlertRule, PrometheusRuleSet, RecordingRule, RuleGroup, RuleOptions } from './monitoring/rules';
export { buildPrometheusRule, TARGET_LABELS } from './monitoring/rules';
export type { ChartOptions, ChartValues } from './values';
export {
  CATWALK_VERSION,
  chartValues,
  grpcHost,
  SYNC_IMAGE_REPOSITORY,
  specHash,
  splitImage,
  startupBudgetSeconds,
} from './values';
export { valuesJsonSchema } from './values-schema';
