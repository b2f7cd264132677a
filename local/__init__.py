"""Local-stack emulations of the AWS behaviour that serverless-offline does not provide.

* `local.edge`: API Gateway gateway responses, as a reverse proxy in front of serverless-offline.
* `local.event_sources`: the Lambda SQS event source mapping (partial batch responses) and
  EventBridge schedules, driving functions through serverless-offline's Lambda API.
"""
