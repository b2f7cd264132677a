"""API Gateway's own answers ("gateway responses"), emulated in front of serverless-offline.

* `local.edge.offline_errors`: which upstream answers serverless-offline made itself, and the
  API Gateway error each stands for;
* `local.edge.gateway_responses`: the serverless.yml's gateway responses, and the answer API
  Gateway renders from them;
* `local.edge.proxy`: the reverse proxy (`EdgeProxy`, `start_edge`) that puts the two together;
* `python -m local.edge`: the proxy on the command line.
"""
