"""Publishing and reading program versions. Versions are immutable, so parsed documents are
cached per (tenant, version) for the life of the process."""

import threading
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from patron.ledger.assets import POINTS
from patron.ledger.engine import Terms
from patron.programs import repository
from patron.programs.errors import NoDraft, NoProgram, NoSuchVersion, ProgramChanged
from patron.programs.models import ProgramDraft, ProgramVersion
from patron.programs.schemas import (
    Program,
    ProgramDocument,
    ProgramDraftOut,
    VersionList,
    VersionSummary,
)


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

    def version(self, session: Session, *, tenant_id: uuid.UUID, version: int) -> Program:
        """Any published version."""
        try:
            return self.get(session, tenant_id=tenant_id, version=version)
        except NoProgram:
            raise NoSuchVersion(f"this shop has no published version {version}") from None

    def versions(
        self, session: Session, *, tenant_id: uuid.UUID, before: int | None, limit: int
    ) -> VersionList:
        rows = repository.versions(session, tenant_id, before=before, limit=limit + 1)
        page = rows[:limit]
        return VersionList(
            items=[
                VersionSummary(
                    version=r.version,
                    name=str(r.document.get("name", "")),
                    rules=len(r.document.get("rules", [])),
                    published_at=r.published_at,
                )
                for r in page
            ],
            next_before=page[-1].version if len(rows) > limit else None,
        )

    def save_draft(
        self, session: Session, *, tenant_id: uuid.UUID, document: ProgramDocument, now: datetime
    ) -> ProgramDraftOut:
        """Keep `document` as the shop's draft, replacing any earlier one."""
        based_on = repository.current_version(session, tenant_id)
        dumped = document.model_dump(mode="json")
        draft = repository.get_draft(session, tenant_id)
        if draft is None:
            session.add(
                ProgramDraft(tenant_id=tenant_id, document=dumped, based_on=based_on, saved_at=now)
            )
        else:
            draft.document, draft.based_on, draft.saved_at = dumped, based_on, now
        session.flush()
        return ProgramDraftOut(**document.model_dump(), based_on=based_on, saved_at=now)

    def draft(self, session: Session, *, tenant_id: uuid.UUID) -> ProgramDraftOut:
        row = repository.get_draft(session, tenant_id)
        if row is None:
            raise NoDraft()
        return ProgramDraftOut(**row.document, based_on=row.based_on, saved_at=row.saved_at)

    def draft_program(self, session: Session, *, tenant_id: uuid.UUID, now: datetime) -> Program:
        """The draft as a program that events can be run through (previews): not published,
        numbered after the current version."""
        draft = self.draft(session, tenant_id=tenant_id)
        document = ProgramDocument.model_validate(
            draft.model_dump(exclude={"based_on", "saved_at"})
        )
        number = repository.latest_version_number(session, tenant_id) + 1
        return Program(**document.model_dump(), version=number, published_at=now)

    def discard_draft(self, session: Session, *, tenant_id: uuid.UUID) -> None:
        if not repository.delete_draft(session, tenant_id):
            raise NoDraft()

    def publish_draft(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        now: datetime,
        starts_from: int | None,
        check: Callable[[ProgramDocument], None],
    ) -> Program:
        """Publish the draft (after `check`, the same as a direct publish) and discard it."""
        draft = self.draft(session, tenant_id=tenant_id)
        document = ProgramDocument.model_validate(
            draft.model_dump(exclude={"based_on", "saved_at"})
        )
        check(document)
        program = self.publish(
            session, tenant_id=tenant_id, document=document, now=now, starts_from=starts_from
        )
        repository.delete_draft(session, tenant_id)
        return program

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
