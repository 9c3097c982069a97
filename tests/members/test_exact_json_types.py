"""Member fields, and a support adjustment's points, take exactly the JSON type the OpenAPI
document gives them: `0` is not false, "1" is not true, a number is not a date, "250" is not
250. Text holds no control characters but tabs and line breaks (PostgreSQL cannot store NUL:
a search with one answered 500). Each refusal is a 422 naming the field, and nothing is
stored. (Found by the contract test, tests/api/test_contract.py.)"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from patron.kit.clock import FrozenClock
from tests.factories import member_enrolled


def assert_refused(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    [error] = response.json()["errors"]
    assert error["field"] == field
    return str(error["message"])


class TestMemberFields:
    @pytest.mark.parametrize("value", [0, 1, "true", "yes"])
    def test_accepts_marketing_must_be_a_boolean(self, client: httpx.Client, value: Any) -> None:
        response = client.put("/v1/members/cust_1042", json={"accepts_marketing": value})
        assert "boolean" in assert_refused(response, "accepts_marketing")
        assert client.get("/v1/members/cust_1042").status_code == 404

    @pytest.mark.parametrize("value", [0, 86400, "0", "657936000", "1990/12/10", "10.12.1990"])
    def test_birthday_must_be_a_date_string(self, client: httpx.Client, value: Any) -> None:
        response = client.put("/v1/members/cust_1042", json={"birthday": value})
        message = assert_refused(response, "birthday")
        assert "YYYY-MM-DD" in message
        assert client.get("/v1/members/cust_1042").status_code == 404

    def test_the_right_types_are_taken(self, client: httpx.Client) -> None:
        response = client.put(
            "/v1/members/cust_1042", json={"accepts_marketing": True, "birthday": "1990-12-10"}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["accepts_marketing"] is True and body["birthday"] == "1990-12-10"
        cleared = client.put("/v1/members/cust_1042", json={"birthday": None}).json()
        assert cleared["birthday"] is None


class TestMemberEnrolledEvent:
    def test_accepts_marketing_and_birthday_take_their_json_types(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        event = member_enrolled("cust_1042", at=clock.now(), accepts_marketing=0)
        response = client.post("/v1/events", json=event)
        assert_refused(response, "data.accepts_marketing")
        event = member_enrolled("cust_1042", at=clock.now(), birthday=0)
        assert_refused(client.post("/v1/events", json=event), "data.birthday")
        assert client.get("/v1/members/cust_1042").status_code == 404
        event = member_enrolled(
            "cust_1042", at=clock.now(), accepts_marketing=True, birthday="1990-12-10"
        )
        assert client.post("/v1/events", json=event).status_code == 201
        member = client.get("/v1/members/cust_1042").json()
        assert member["accepts_marketing"] is True and member["birthday"] == "1990-12-10"


class TestAdjustmentPoints:
    @pytest.mark.parametrize("value", ["250", 250.0, True])
    def test_points_must_be_an_integer(self, client: httpx.Client, value: Any) -> None:
        client.put("/v1/members/cust_1042", json={})
        response = client.post(
            "/v1/members/cust_1042/adjustments", json={"points": value, "reason": "Goodwill"}
        )
        assert "integer" in assert_refused(response, "points")
        history = client.get("/v1/members/cust_1042/transactions").json()
        assert history["items"] == []


class TestNoControlCharacters:
    @pytest.mark.parametrize("param", ["email", "q"])
    def test_a_search_with_one_is_refused(self, client: httpx.Client, param: str) -> None:
        response = client.get("/v1/members", params={param: "ada\x00@example.com"})
        assert "control characters" in assert_refused(response, param)

    def test_a_name_with_one_is_refused(self, client: httpx.Client) -> None:
        response = client.put("/v1/members/cust_1042", json={"name": "Ada\x00"})
        assert "U+0000" in assert_refused(response, "name")
        assert client.get("/v1/members/cust_1042").status_code == 404
