"""Every domain's router under /v1."""

from fastapi import APIRouter

from patron.auth.api import router as auth_router
from patron.events.api import router as events_router
from patron.ingest.api import router as ingest_router
from patron.ledger.api import router as ledger_router
from patron.members.api import router as members_router
from patron.programs.api import router as programs_router
from patron.redemptions.api import router as redemptions_router

router = APIRouter(prefix="/v1")
router.include_router(programs_router)
router.include_router(members_router)
router.include_router(ledger_router)
router.include_router(redemptions_router)
router.include_router(auth_router)
router.include_router(ingest_router)
router.include_router(events_router)
