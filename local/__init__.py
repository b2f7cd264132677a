"""Local-stack emulations of the AWS behaviour that serverless-offline does not provide.

* `local.edge`: API Gateway gateway responses, as a reverse proxy in front of serverless-offline.
* `local.cloudformation`: the one reader of the serverless.yml templates (YAML with
  CloudFormation tags, Serverless variables); `local.template_resources` creates the resources
  template's tables and queues on an emulator for the tests and the bench.
* `local.event_sources`: the Lambda SQS event source mapping (partial batch responses) and
  EventBridge schedules, driving functions through serverless-offline's Lambda API.
"""
