"""Every SQL statement the storage layer runs, and the table schemas they rest on.

Kept in one package so a reviewer can read all SQL in one place: :mod:`.tables` (our tables
and identifier checks), :mod:`.ddl` (creating and altering them) and :mod:`.queries` (every
other statement and the functions that fill templates). Nothing from a request is ever
formatted into SQL. Callers use ``sql.NAME`` for all three.
"""

from consentstream.storage.sql.ddl import *  # noqa: F403  (one namespace for all SQL)
from consentstream.storage.sql.queries import *  # noqa: F403
from consentstream.storage.sql.tables import *  # noqa: F403
from consentstream.storage.sql.top import *  # noqa: F403
