"""Publishing and reading program versions. Versions are immutable, so parsed documents are
cached per (tenant, version) for the life of the process."""

import threading
import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from patron.ledger.assets import POINTS
from patron.ledger.engine import Terms
from patron.programs import repository
from patron.programs.errors import NoProgram, ProgramChanged
from patron.programs.models import ProgramVersion
from patron.programs.schemas import Program, ProgramDocument


class ProgramService:
    def __init__(self) -> None:
        self._cache: dict[tuple[uuid.UUID, int], Program] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, *, tenant_id: uuid.UUID, version: int | None) -> Program:
        """The published version `version` (the tenant's current one, as read with the
        request's credentials)."""
        if version is None:
            raise NoProgram()
        key = (tenant_id, version)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        row = repository.get_version(session, tenant_id, version)
        if row is None:
            raise NoProgram()
        program = Program(**row.document, version=row.version, published_at=row.published_at)
        with self._lock:
            self._cache[key] = program
        return program

    def publish(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        document: ProgramDocument,
        now: datetime,
        starts_from: int | None = None,
    ) -> Program:
        """Publish `document` as the next version. `starts_from`: the version the edit was
        made from; refused if another was published since."""
        repository.lock_tenant(session, tenant_id)
        current = repository.current_version(session, tenant_id)
        if starts_from is not None and starts_from != current:
            raise ProgramChanged(
                f"this edit starts from version {starts_from}, but version {current} was "
                "published since: read the program again and apply the edit to it"
            )
        version = repository.latest_version_number(session, tenant_id) + 1
        session.add(
            ProgramVersion(
                tenant_id=tenant_id,
                version=version,
                document=document.model_dump(mode="json"),
                published_at=now,
            )
        )
        session.flush()
        repository.set_current_version(session, tenant_id, version)
        return Program(**document.model_dump(), version=version, published_at=now)

    def terms_for(self, session: Session, tenant_id: uuid.UUID, asset: str) -> Terms:
        """The terms the scheduled jobs apply to a tenant's wallets of `asset`: the current
        program's for points; money never goes into debt and does not expire by program."""
        version = repository.current_version(session, tenant_id)
        if version is None:
            return Terms(None, "forbid", None)
        program = self.get(session, tenant_id=tenant_id, version=version)
        if asset == POINTS:
            return program.terms
        return Terms(version, "forbid", None)


programs = ProgramService()
