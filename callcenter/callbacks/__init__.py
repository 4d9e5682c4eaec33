"""Follow-up callbacks (回访): once a unit has replied to a ticket, the hotline calls the
citizen back, plays a question and takes their satisfaction by DTMF (1 satisfied,
2 basically satisfied, 3 dissatisfied), records the call like any other, and stores the
answer on the ticket (`tickets.service.record_callback`). No answer: retried as
configured, never at night.

The rooms: `policy` (the pure decisions: who is due, what a key means, when to give up)
and `runner` (the calls over ARI and AMI).
"""

from callcenter.callbacks.policy import ANSWERS, BUSY_CAUSES, attempts_left, due, quiet, unanswered_result
from callcenter.callbacks.runner import PREFIX, CallbackCall, CallbackRunner

__all__ = [
    "ANSWERS", "BUSY_CAUSES", "PREFIX", "CallbackCall", "CallbackRunner", "attempts_left", "due", "quiet",
    "unanswered_result",
]
