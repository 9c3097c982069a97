"""The OpenAPI document teaches the whole API, and new routes cannot make it worse.

`complaints` walks the document and says what is missing: a summary or a description of the
route's own, examples (every parameter, every request body, every response), a description
on any parameter or schema property, an error that is not a problem, an example that does
not match its schema. The walker is checked on a small app built to break each rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header
from fastapi.routing import APIRoute, iter_route_contexts
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from patron.app import create_app
from patron.auth.deps import require
from patron.config import Settings
from patron.openapi import install_openapi

PROBLEM = "application/problem+json"
METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture(scope="module")
def app() -> Iterator[FastAPI]:
    application = create_app(Settings(database_url="sqlite://", jobs_interval=0))
    yield application
    application.state.db.dispose()


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


# -- the walker ---------------------------------------------------------------------------------


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def own_texts(app: FastAPI) -> dict[str, tuple[str, str]]:
    """Each documented route's own summary and description, before the document adds its
    sentence about authentication."""
    found = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in route.methods:
                found[f"{method} {context.path_format}"] = (
                    route.summary or "",
                    route.description or "",
                )
    return found


def has_example(media: dict[str, Any]) -> bool:
    return "example" in media or bool(media.get("examples"))


def examples_of(media: dict[str, Any]) -> list[Any]:
    if "example" in media:
        return [media["example"]]
    return [e["value"] for e in (media.get("examples") or {}).values()]


def properties_without_description(schema: Any, where: str) -> Iterator[str]:
    """Every property, at any depth (nested objects, items, unions), must say what it is."""
    if isinstance(schema, list):
        for i, sub in enumerate(schema):
            yield from properties_without_description(sub, f"{where}[{i}]")
        return
    if not isinstance(schema, dict):
        return
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict) or not prop.get("description"):
            yield f"{where}.{name}"
        yield from properties_without_description(prop, f"{where}.{name}")
    for key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties", "$defs"):
        if key in schema and key != "properties":
            yield from properties_without_description(schema[key], f"{where}/{key}")


def example_errors(document: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    # The document's components at the root, so that "#/components/..." references resolve.
    rooted = {**schema, "components": document["components"]}
    validator = Draft202012Validator(rooted, format_checker=FormatChecker())
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)
    ]


def complaints(app: FastAPI, document: dict[str, Any]) -> list[str]:
    found: list[str] = []
    texts = own_texts(app)
    for name, operation in operations(document):
        summary, description = texts.get(name, ("", ""))
        if not summary.strip():
            found.append(f"{name}: no summary (`summary=` in the route's decorator)")
        if not description.strip():
            found.append(f"{name}: no description (`description=` in the route's decorator)")
        for parameter in operation.get("parameters", []):
            label = f"{name}: parameter {parameter['name']}"
            if not parameter.get("description"):
                found.append(f"{label} has no description")
            schema = parameter.get("schema", {})
            if (
                "example" not in parameter
                and not parameter.get("examples")
                and not schema.get("examples")
            ):
                found.append(f"{label} has no example")
            for value in [parameter.get("example")] if "example" in parameter else []:
                found += [f"{label} example: {e}" for e in example_errors(document, schema, value)]
        body = operation.get("requestBody", {}).get("content", {})
        for media_type, media in body.items():
            if not has_example(media):
                found.append(f"{name}: the {media_type} request body has no example")
            for value in examples_of(media):
                errors = example_errors(document, media.get("schema", {}), value)
                found += [f"{name}: request example: {e}" for e in errors]
        found += [f"{name}: {p}" for p in properties_without_description(body, "request")]
        for status, response in operation.get("responses", {}).items():
            content = response.get("content") or {}
            if int(status) >= 400 and set(content) != {PROBLEM}:
                found.append(f"{name}: {status} is not documented as {PROBLEM}")
            for media_type, media in content.items():
                if not has_example(media):
                    found.append(f"{name}: the {status} {media_type} response has no example")
                for value in examples_of(media):
                    errors = example_errors(document, media.get("schema", {}), value)
                    found += [f"{name}: {status} example: {e}" for e in errors]
            found += [
                f"{name}: {p}"
                for p in properties_without_description(content, f"response {status}")
            ]
    for schema_name, schema in document["components"]["schemas"].items():
        found += [f"schema {p}" for p in properties_without_description(schema, schema_name)]
    return found


# -- the document -------------------------------------------------------------------------------


class TestTheDocument:
    def test_is_valid_openapi(self, document: dict[str, Any]) -> None:
        validate(document)

    def test_the_server_serves_it(self, anon: httpx.Client, document: dict[str, Any]) -> None:
        served = anon.get("/openapi.json")
        assert served.status_code == 200
        assert served.json() == json.loads(json.dumps(document))

    def test_teaches_every_operation_and_field(
        self, app: FastAPI, document: dict[str, Any]
    ) -> None:
        found = complaints(app, document)
        assert found == [], "\n".join(found)

    def test_has_no_validation_error_schema_of_fastapi(self, document: dict[str, Any]) -> None:
        text = json.dumps(document)
        assert "HTTPValidationError" not in text
        assert '"ValidationError"' not in text
        assert set(document["components"]["schemas"]) >= {"Problem", "ProblemError"}

    def test_documents_the_problem_shape(self, document: dict[str, Any]) -> None:
        problem = document["components"]["schemas"]["Problem"]
        assert set(problem["required"]) == {"type", "title", "status", "detail", "errors"}
        assert set(problem["properties"]) == {
            "type",
            "title",
            "status",
            "detail",
            "instance",
            "errors",
            "request_id",
        }
        assert problem["additionalProperties"] is True  # extension members, e.g. `available`
        error = document["components"]["schemas"]["ProblemError"]
        assert set(error["required"]) == {"field", "message"}


class TestSecurity:
    def test_every_v1_operation_needs_a_secret_key_with_a_scope(
        self, document: dict[str, Any]
    ) -> None:
        schemes = document["components"]["securitySchemes"]
        assert schemes["SecretKey"] == {**schemes["SecretKey"], "type": "http", "scheme": "bearer"}
        for name, operation in operations(document):
            if " /v1/" not in name:
                continue
            alternatives = operation.get("security")
            assert alternatives, f"{name} has no security"
            [secret] = [a for a in alternatives if "SecretKey" in a]
            assert len(secret["SecretKey"]) == 1, f"{name}: which scope?"
            assert all(n in schemes for a in alternatives for n in a)
            assert {"401", "403"} <= set(operation["responses"]), name

    def test_public_operations_need_nothing(self, document: dict[str, Any]) -> None:
        assert "security" not in document
        public = [n for n, op in operations(document) if "security" not in op]
        assert "GET /healthz" in public
        assert all(" /v1/" not in n for n in public)
        assert "401" not in document["paths"]["/healthz"]["get"]["responses"]

    def test_the_event_routes_name_the_scope_they_check_themselves(
        self, document: dict[str, Any]
    ) -> None:
        for path in ("/v1/events", "/v1/events/batch"):
            operation = document["paths"][path]["post"]
            assert operation["security"] == [{"SecretKey": ["events:write"]}]
            assert "x-patron-scope" not in operation
            assert "`events:write`" in operation["description"]

    def test_storefront_routes_also_take_the_storefront_credentials(
        self, document: dict[str, Any]
    ) -> None:
        member = document["paths"]["/v1/members/{external_id}"]["get"]["security"]
        assert member == [
            {"SecretKey": ["members:read"]},
            {"PublishableKey": [], "MemberToken": ["members:read"]},
        ]
        program = document["paths"]["/v1/program"]["get"]["security"]
        assert program == [{"SecretKey": ["program:read"]}, {"PublishableKey": ["program:read"]}]
        assert document["components"]["securitySchemes"]["PublishableKey"]["name"] == (
            "X-Patron-Key"
        )


class TestErrors:
    def statuses(self, document: dict[str, Any], path: str, method: str) -> set[str]:
        return set(document["paths"][path][method]["responses"])

    def test_a_body_can_be_malformed_too_large_not_json_or_invalid(
        self, document: dict[str, Any]
    ) -> None:
        for path, method in [
            ("/v1/events", "post"),
            ("/v1/program", "put"),
            ("/v1/members/{external_id}/adjustments", "post"),
        ]:
            assert {"400", "413", "415", "422", "500"} <= self.statuses(document, path, method)

    def test_a_path_id_can_be_unknown_unless_the_route_creates_it(
        self, document: dict[str, Any]
    ) -> None:
        assert "404" in self.statuses(document, "/v1/members/{external_id}", "get")
        assert "404" in self.statuses(document, "/v1/events/{event_id}", "get")
        assert "404" not in self.statuses(document, "/v1/members/{external_id}", "put")
        assert "404" not in self.statuses(document, "/v1/members", "get")

    def test_an_idempotency_key_can_conflict(self, document: dict[str, Any]) -> None:
        responses = document["paths"]["/v1/members/{external_id}/redemptions"]["post"]["responses"]
        assert "409" in responses
        assert "Idempotency-Key" in json.dumps(responses["409"])

    def test_a_route_adds_its_own_errors(self, document: dict[str, Any]) -> None:
        conflict = document["paths"]["/v1/events"]["post"]["responses"]["409"]
        assert "sent before with other content" in conflict["description"]
        [media] = conflict["content"].values()
        assert media["schema"] == {"$ref": "#/components/schemas/Problem"}
        titles = {e["value"]["title"] for e in media["examples"].values()}
        assert titles >= {"Event id reused", "No program published"}


# -- the walker itself --------------------------------------------------------------------------


class Thing(BaseModel):
    name: str = Field(description="Its name.", examples=["spoon"])
    colour: str = Field(examples=["red"])


def broken_app() -> FastAPI:
    application = FastAPI(docs_url=None, redoc_url=None)
    router = APIRouter(prefix="/v1")

    @router.post("/things/{thing_id}", response_model=Thing, summary="Make a thing")
    def make_thing(
        thing_id: str,
        thing: Thing,
        idempotency_key: str = Header(alias="Idempotency-Key"),
        _: object = Depends(require("members:write")),
    ) -> Thing:
        return thing

    application.include_router(router)
    install_openapi(application)
    return application


@pytest.fixture(scope="module")
def found() -> str:
    application = broken_app()
    return "\n".join(complaints(application, application.openapi()))


class TestTheWalker:
    def test_finds_a_route_without_a_description(self, found: str) -> None:
        assert "POST /v1/things/{thing_id}: no description" in found
        assert "no summary" not in found

    def test_finds_a_parameter_without_description_or_example(self, found: str) -> None:
        assert "parameter thing_id has no description" in found
        assert "parameter thing_id has no example" in found

    def test_finds_missing_examples_of_bodies(self, found: str) -> None:
        assert "the application/json request body has no example" in found
        assert "the 200 application/json response has no example" in found

    def test_finds_a_property_without_description(self, found: str) -> None:
        assert "schema Thing.colour" in found
        assert "schema Thing.name" not in found

    def test_finds_an_example_that_breaks_its_schema(self) -> None:
        document = {"components": {"schemas": {"Thing": Thing.model_json_schema()}}}
        schema = {"$ref": "#/components/schemas/Thing"}
        assert example_errors(document, schema, {"name": "spoon", "colour": "red"}) == []
        assert example_errors(document, schema, {"name": 3, "colour": "red"}) == [
            "name: 3 is not of type 'string'"
        ]

    def test_passes_the_common_errors_of_the_broken_route(self) -> None:
        """Derived centrally, though the route says nothing about them."""
        operation = broken_app().openapi()["paths"]["/v1/things/{thing_id}"]["post"]
        assert {"400", "401", "403", "404", "409", "413", "415", "422", "500"} <= set(
            operation["responses"]
        )
        assert operation["security"] == [{"SecretKey": ["members:write"]}]
