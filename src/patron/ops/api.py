"""`/healthz`, `/readyz` and `/metrics`: for load balancers and Prometheus, without an API key
(`/metrics` takes a bearer token when `PATRON_METRICS_TOKEN` is set)."""

import hmac
import logging
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.exposition import choose_encoder
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from patron import __version__
from patron.errors import PatronError, Unauthorized
from patron.ops.health import Probe
from patron.ops.metrics import Metrics

router = APIRouter(tags=["meta"])
log = logging.getLogger("patron.ops")

# /readyz answers within this, whatever the database does.
READY_TIMEOUT = 5.0


class NotReady(PatronError):
    status_code = 503
    title = "Not ready"
    type_slug = "not-ready"
    default_field = "database"


class Health(BaseModel):
    status: Literal["ok"] = Field(description="Always `ok`: the process answers.")
    version: str = Field(description="Patron's version.", examples=["0.1.0"])


class Ready(BaseModel):
    status: Literal["ready"] = Field(description="Always `ready` (else the answer is 503).")
    version: str = Field(description="Patron's version.", examples=["0.1.0"])
    database: str = Field(description="The database's kind.", examples=["postgresql"])
    revision: str = Field(description="The schema's migration revision.", examples=["0005"])


@router.get(
    "/healthz",
    response_model=Health,
    summary="Is the process up",
    description="Answers 200 while the process serves requests, without touching the "
    "database: for a load balancer's liveness check. Needs no key.",
)
async def healthz() -> Health:
    return Health(status="ok", version=__version__)


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Can the process serve requests",
    description="200 when the database answers and its schema is at the migration this "
    "version of Patron needs; 503 (problem+json saying which) when the database cannot be "
    f"reached, does not answer within {READY_TIMEOUT:g} s, or needs `patron migrate`. For a "
    "load balancer's readiness check and for deployments. Needs no key.",
    responses={503: {"description": "Not ready: the detail says why."}},
)
async def readyz(request: Request) -> Ready:
    db = request.app.state.db
    probe: Probe | None = getattr(request.app.state, "readiness_probe", None)
    if probe is None:
        probe = request.app.state.readiness_probe = Probe(db.engine)
    try:
        state = await probe.check(READY_TIMEOUT)
    except TimeoutError:
        raise NotReady(f"the database did not answer within {READY_TIMEOUT:g} s") from None
    except (SQLAlchemyError, OSError) as exc:
        # The driver's words name the host, never the password; the client gets the kind only.
        log.warning("readiness: the database cannot be reached: %s", exc)
        raise NotReady(
            f"the database cannot be reached ({type(exc).__name__}); see the server's log"
        ) from None
    if not state.ready or state.revision is None:
        raise NotReady(state.detail, revision=state.revision, head=state.head)
    return Ready(status="ready", version=__version__, database=db.dialect, revision=state.revision)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    token: str = request.app.state.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise Unauthorized(
                "/metrics needs `Authorization: Bearer <PATRON_METRICS_TOKEN>`",
                field="Authorization",
            )
    metrics: Metrics = request.app.state.metrics
    # The text format Prometheus asks for (its Accept header); the classic one by default.
    encode, media_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(metrics.registry), headers={"Content-Type": media_type})


def pool_reader(db: Any) -> Any:
    """The pool's use as numbers, for the metrics. SQLAlchemy pools a file database's
    connections too; a pool of another kind (none, or one shared connection) has no size."""

    def read() -> dict[str, int]:
        pool = db.engine.pool
        if not isinstance(pool, QueuePool):
            return {}
        return {
            "checked_out": pool.checkedout(),
            "size": pool.size(),
            "overflow": max(pool.overflow(), 0),
        }

    return read
