from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from projects.services import entity_type_create


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["?", "[", "]"])
def test_tagging_page_shortcuts_cannot_be_hotkeys(project, key):
    with pytest.raises(ValidationError, match="shortcut"):
        entity_type_create(project=project, name="Thing", hotkey=key)
