"""What differs under serverless-offline, the local stack's Lambda and API Gateway emulator:
bootstrap.py chooses this adapter when the function runs there (`IS_OFFLINE=true`)."""

from __future__ import annotations


def unauthorized() -> str:
    """The 401 of a TOKEN authorizer under serverless-offline.

    Its Python runner has no try/except around the handler: an exception (AWS's way of
    saying 401, shared_kernel.api.authorizer.unauthorized) kills the Python process and the
    request times out. It reads the returned sentinel "Unauthorized" as a 401 instead.
    """
    return "Unauthorized"
