"""An in-memory BankActions (the bank's API for captures, voids and refunds) for unit tests:
answers `submit_action` from a script and `action_status_of` from a dict, recording both."""

from __future__ import annotations

from collections import deque
from uuid import UUID

from shared_kernel.application.errors import BankUnavailable
from shared_kernel.application.ports import BankActionReport, BankActionRequest, BankActionStatus
from shared_kernel.domain.action import ActionType

ActionAnswer = Exception | type[Exception] | None


class ScriptedBankActions:
    """Accepts every action until scripted otherwise (`then`); `statuses` answers queries."""

    def __init__(self) -> None:
        self.requests: list[BankActionRequest] = []
        self.status_queries: list[UUID] = []
        self.statuses: dict[UUID, BankActionReport] = {}
        self.unreachable = False
        self._script: deque[ActionAnswer] = deque()

    def then(self, *answers: ActionAnswer) -> None:
        """Script the next answers to `submit_action` (None: accept; an error: raise it)."""
        self._script.extend(answers)

    def submit_action(self, request: BankActionRequest) -> None:
        """Record the request; accept, or raise the next scripted error."""
        self.requests.append(request)
        answer = self._script.popleft() if self._script else None
        if answer is not None:
            raise answer

    def action_status_of(self, payment_id: UUID, action_id: UUID) -> BankActionReport | None:
        """The scripted report of the action, None if unknown; BankUnavailable while
        unreachable."""
        self.status_queries.append(action_id)
        if self.unreachable:
            raise BankUnavailable("bank is unreachable (fake)")
        return self.statuses.get(action_id)

    def knows(self, action_id: UUID, kind: ActionType, status: BankActionStatus) -> None:
        """Let the bank report the action in `status`."""
        self.statuses[action_id] = BankActionReport(action_id, kind, status)

    def sends_of(self, action_id: UUID) -> int:
        """How many times the action was submitted."""
        return sum(1 for r in self.requests if r.action_id == action_id)
