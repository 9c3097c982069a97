"""Every domain's router under /v1."""

from fastapi import APIRouter

from patron.events.api import router as events_router
from patron.members.api import router as members_router
from patron.programs.api import router as programs_router

router = APIRouter(prefix="/v1")
router.include_router(programs_router)
router.include_router(members_router)
router.include_router(events_router)
