"""`settled()` reads a status through `Progress`, a narrow view of `ConversationStatus` (pure).

The view is a second list of the same fields; if the status renamed or retyped one, the view would read
its default forever and `settled()` would answer wrongly without an error. This keeps the two together.
"""

from __future__ import annotations

from controller.api.types import ConversationStatus
from controller.client import Progress


def test_progress_is_a_subset_of_the_status_with_the_same_types_and_defaults() -> None:
    status = ConversationStatus.model_fields
    for name, field in Progress.model_fields.items():
        assert name in status, name
        assert field.annotation == status[name].annotation, name
        assert field.get_default(call_default_factory=True) == status[name].get_default(call_default_factory=True)
