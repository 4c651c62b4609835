# The inspection tests' task, slot and warehouse operator serve the offline inspection steps here too.
from tests.inspections.conftest import declaration, operator, site, slot, task, warehouse  # noqa: F401
