"""The loyalty program: a versioned, validated document; publishing makes an immutable version.
A draft is an edit kept aside, previewed, then published. Programs read and write as JSON or
YAML (`Content-Type` / `Accept: application/yaml`)."""

import uuid
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from patron.auth.deps import ClockDep, SessionDep, require
from patron.auth.scopes import PROGRAM_READ, PROGRAM_WRITE
from patron.auth.service import Principal
from patron.errors import InvalidInput
from patron.kit.yaml_bodies import YAML_TYPES, wants_yaml
from patron.orders import repository as orders
from patron.programs.schemas import (
    Program,
    ProgramDocument,
    ProgramDraftOut,
    ProgramPublish,
    ProgramPut,
    VersionList,
)
from patron.programs.service import programs

router = APIRouter(prefix="/program", tags=["program"])

# Version numbers are 32-bit integers in the database.
MAX_VERSION = 2**31 - 1
Reader = Annotated[Principal, Depends(require(PROGRAM_READ))]
Writer = Annotated[Principal, Depends(require(PROGRAM_WRITE))]
# Every route that returns a program document may return it as YAML.
_YAML_EXAMPLE = """name: Bean Club
currency: USD
points_per_unit: '1'
pending_days: 14
expiry_days: 365
rules:
- id: welcome
  name: Welcome bonus
  points: 50
  when: member.orders == 0
"""
_YAML_OUT = {
    "content": {t: {"schema": {"type": "string"}, "example": _YAML_EXAMPLE} for t in YAML_TYPES[:1]}
}
_YAML_IN = {
    "requestBody": {
        "content": {
            t: {
                "schema": {"$ref": "#/components/schemas/ProgramPut"},
                "example": yaml.safe_load(_YAML_EXAMPLE),
            }
            for t in YAML_TYPES
        }
    }
}


def _reply(request: Request, model: BaseModel) -> Any:
    """The model as JSON, or as YAML when the client's `Accept` prefers it. Decimals are
    strings in both, so a YAML round trip keeps them exact."""
    if wants_yaml(request.headers.get("accept", "")):
        text = yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        return Response(text, media_type="application/yaml")
    return model


def _check(session: Session, tenant_id: uuid.UUID, document: ProgramDocument) -> None:
    used = orders.other_currency(session, tenant_id, document.currency)
    if used is not None:
        raise InvalidInput(
            f"orders were reported in {used}: the program's currency cannot change once "
            "orders exist, because member spend and order totals are counted in it",
            field="currency",
        )


@router.get(
    "",
    response_model=Program,
    summary="The published program",
    description="The program version in force: what customers earn per unit of currency and "
    "by which rules, how long points stay pending, when they expire, what a refund does to "
    "points already spent. The body can be edited and sent back with PUT: its `version` makes "
    "that PUT fail if another version was published in between. A storefront credential "
    "(publishable key, member token) reads it without `rules` and `custom_events`: conditions, "
    "budgets and campaigns are the merchant's business. `Accept: application/yaml` returns "
    "YAML.",
    responses={
        200: _YAML_OUT,
        409: {"description": "The shop has no published program yet."},
    },
)
def get_program(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(PROGRAM_READ, storefront="public"))],
) -> Any:
    program = programs.get(
        session, tenant_id=principal.tenant_id, version=principal.program_version
    )
    return _reply(request, program.for_storefront() if principal.storefront else program)


@router.put(
    "",
    response_model=Program | ProgramDraftOut,
    summary="Validate and publish a new version (or save a draft)",
    description="Validate the document and publish it as the next version. Events from now on "
    "are applied under it; every posting records the version it was made under, and earlier "
    "postings keep theirs. Fields left out take their defaults. Send the `version` a GET "
    "returned to publish only if no one published another version since (else 409). The "
    "currency cannot change once orders were reported (422). A rule that does not compile is "
    "refused (422) naming the rule, the field and the position. With `draft=true` the "
    "document is validated the same way and kept as the shop's draft instead (replacing any "
    "earlier one): preview events against it, then `POST /v1/program/publish`. The body may "
    "be YAML (`Content-Type: application/yaml`).",
    responses={
        200: _YAML_OUT,
        409: {
            "description": "Another version was published since the `version` this edit "
            "starts from: read the program again and apply the edit to it."
        },
    },
    openapi_extra=_YAML_IN,
)
def publish_program(
    request: Request,
    body: ProgramPut,
    session: SessionDep,
    clock: ClockDep,
    principal: Writer,
    draft: Annotated[
        bool, Query(description="Save as the draft instead of publishing.", examples=[True])
    ] = False,
) -> Any:
    document = body.document()
    _check(session, principal.tenant_id, document)
    if draft:
        saved = programs.save_draft(
            session, tenant_id=principal.tenant_id, document=document, now=clock.now()
        )
        return _reply(request, saved)
    program = programs.publish(
        session,
        tenant_id=principal.tenant_id,
        document=document,
        now=clock.now(),
        starts_from=body.version,
    )
    return _reply(request, program)


@router.get(
    "/draft",
    response_model=ProgramDraftOut,
    summary="The draft",
    description="The program document saved with `PUT /v1/program?draft=true`, not published.",
    responses={200: _YAML_OUT, 404: {"description": "The shop has no draft."}},
)
def get_draft(request: Request, session: SessionDep, principal: Reader) -> Any:
    return _reply(request, programs.draft(session, tenant_id=principal.tenant_id))


@router.delete(
    "/draft",
    status_code=204,
    summary="Discard the draft",
    description="The published program is unchanged.",
    responses={404: {"description": "The shop has no draft."}},
)
def discard_draft(session: SessionDep, principal: Writer) -> Response:
    programs.discard_draft(session, tenant_id=principal.tenant_id)
    return Response(status_code=204)


@router.post(
    "/publish",
    response_model=Program,
    summary="Publish the draft",
    description="Publish the draft as the next version, with the checks of a direct publish "
    "(the currency is locked once orders exist), and discard it. Send `version` to publish "
    "only if it is still the published version: the one the draft was edited from.",
    responses={
        200: _YAML_OUT,
        404: {"description": "The shop has no draft."},
        409: {"description": "Another version was published since `version`."},
    },
)
def publish_draft(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    principal: Writer,
    body: ProgramPublish | None = None,
) -> Any:
    program = programs.publish_draft(
        session,
        tenant_id=principal.tenant_id,
        now=clock.now(),
        starts_from=body.version if body else None,
        check=lambda document: _check(session, principal.tenant_id, document),
    )
    return _reply(request, program)


@router.get(
    "/versions",
    response_model=VersionList,
    summary="The published versions",
    description="Every version ever published, newest first. Each can be read in full.",
)
def list_versions(
    session: SessionDep,
    principal: Reader,
    before: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_VERSION,
            description="Versions older than this one (paging).",
            examples=[3],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page.")] = 50,
) -> VersionList:
    return programs.versions(session, tenant_id=principal.tenant_id, before=before, limit=limit)


@router.get(
    "/versions/{version}",
    response_model=Program,
    summary="One published version",
    description="A version as it was published: what the postings that name it were made under.",
    responses={200: _YAML_OUT, 404: {"description": "No such version."}},
)
def get_version(
    request: Request,
    session: SessionDep,
    principal: Reader,
    version: Annotated[
        int, Path(ge=1, le=MAX_VERSION, description="The version number.", examples=[3])
    ],
) -> Any:
    return _reply(
        request, programs.version(session, tenant_id=principal.tenant_id, version=version)
    )
