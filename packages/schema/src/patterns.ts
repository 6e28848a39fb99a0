// The spec's string patterns, apart from the TypeBox definitions that use them:
// the name checks (names.ts) need them without paying for building the spec's
// types, which is what `@catwalk/schema/names` exists for.

/** Patterns shared by the schema and the semantic checks. */
export const patterns = {
  // DNS-1035 label: the model name becomes Service/Deployment names and a URL path.
  modelName: '^[a-z]([-a-z0-9]*[a-z0-9])?$',
  // A Kubernetes label value (it is written as one), without the empty string.
  labelValue: '^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$',
  // TF Serving's documented label alphabet, plus '-'.
  versionLabel: '^[A-Za-z0-9][A-Za-z0-9_-]*$',
  // DNS-1123 subdomain, optionally with one leading wildcard label.
  host: '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  awsRegion: '^[a-z]{2}(-[a-z]+)+-[0-9]+$',
  roleArn: '^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$',
  // An ACM (or IAM server) certificate ARN, as the load balancer takes it.
  certificateArn:
    '^arn:aws(-cn|-us-gov|-iso|-iso-b)?:(acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+|iam::[0-9]{12}:server-certificate/[A-Za-z0-9+=,.@_/-]+)$',
  // An IngressGroup name, as the AWS Load Balancer Controller accepts it.
  loadBalancerGroup: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
  // Kubernetes resource.Quantity, as in apimachinery's quantity.go.
  quantity: '^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?$',
  // A flag, and a value without control or line-break characters.
  extraArg: '^--[a-z_][a-z0-9_]*(=[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*)?$',
} as const;
