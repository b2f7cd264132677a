"""The operator CLI (`gateway-ops`): onboards merchants, rotates their keys, runs a
reconciler pass, shows a payment and redrives the dead-letter queue, on any stage.

It is a driving adapter like the Lambda handlers: it parses a command, calls a use case of
shared_kernel through the composition root, and prints the answer. Installed with the
`ops` extra; the Lambda packages do not carry it (services/shared.yml).
"""
