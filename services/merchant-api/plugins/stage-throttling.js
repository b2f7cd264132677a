'use strict';

// Stage-wide throttling of the REST API (rate and burst, every method of every resource).
//
// osls 3 has no `provider.apiGateway.throttle`, and it creates the stage through the
// `AWS::ApiGateway::Deployment` (whose logical id changes on every deployment), so
// `resources.extensions` cannot reach it. This plugin adds the throttling to that
// Deployment's `StageDescription` once the template is compiled. Usage-plan throttles were
// not an option: they count only requests carrying an API Gateway API key.
//
// custom.stageThrottling: { rateLimit: <requests per second>, burstLimit: <requests> }

class StageThrottling {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.addThrottling() };
  }

  addThrottling() {
    const settings = (this.serverless.service.custom || {}).stageThrottling;
    if (!settings) return;
    const rateLimit = Number(settings.rateLimit);
    const burstLimit = Number(settings.burstLimit);
    if (!(rateLimit > 0) || !(burstLimit > 0)) {
      throw new Error('custom.stageThrottling needs a positive rateLimit and burstLimit');
    }
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== 'AWS::ApiGateway::Deployment') continue;
      resource.Properties.StageDescription = {
        ...(resource.Properties.StageDescription || {}),
        ThrottlingRateLimit: rateLimit,
        ThrottlingBurstLimit: burstLimit,
        MethodSettings: [
          {
            HttpMethod: '*',
            ResourcePath: '/*',
            ThrottlingRateLimit: rateLimit,
            ThrottlingBurstLimit: burstLimit,
          },
        ],
      };
    }
  }
}

module.exports = StageThrottling;
