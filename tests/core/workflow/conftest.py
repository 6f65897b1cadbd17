from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from .ticket import WorkflowTestTicket


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The test database, plus the table of the engine's test model."""
    with django_db_blocker.unblock():
        with connection.schema_editor() as editor:
            editor.create_model(WorkflowTestTicket)
        # its content type, committed once: tests roll back, the content-type cache does not
        ContentType.objects.clear_cache()
        ContentType.objects.get_for_model(WorkflowTestTicket)
        yield
