"""Examples for every operation, following the README's tour: shop "Bean Club" publishes
its program, customer `cust_1042` places order `#1001` for 84.50 USD (event `evt_1001`),
half of it is refunded, a support agent adds 200 points, the customer spends 150.

The bodies are what the server answered when the tour was run (ids and times included), so
they teach the real shapes; `tests/api/test_openapi.py` checks each against its schema. A
route may give its own examples in its decorator instead (`openapi_extra`, or `content` in
`responses=`); the document keeps those.
"""

from typing import Any

from patron.openapi.problems import problem

AT = "2026-11-22T10:15:00Z"
LATER = "2026-11-22T10:20:00Z"
CURSOR = "AaIKQ1Szcxq08JEmQ2rvjw"

# -- request bodies ---------------------------------------------------------------------------

PROGRAM_IN = {
    "name": "Bean Club",
    "currency": "USD",
    "points_per_unit": "1",
    "pending_days": 14,
    "expiry_days": 365,
    "negative_balance": "forbid",
    "rules": [
        {
            "id": "gift-boxes-x2",
            "name": "Double points on gift boxes",
            "multiplier": "2",
            "lines": {"categories": ["gifts"]},
            "when": "order.base >= 30.0",
        }
    ],
}
ORDER_PLACED = {
    "id": "evt_1001",
    "type": "order.placed",
    "occurred_at": AT,
    "customer": {"external_id": "cust_1042", "email": "ada@example.com"},
    "data": {"order_id": "#1001", "currency": "USD", "total": "84.50"},
}
ORDER_PLACED_WITH_LINES = {
    "id": "evt_1002",
    "type": "order.placed",
    "occurred_at": AT,
    "customer": {"external_id": "cust_2001"},
    "data": {
        "order_id": "#1002",
        "currency": "USD",
        "total": "19.90",
        "subtotal": "17.90",
        "lines": [
            {
                "id": "L1",
                "sku": "BEAN-250",
                "category": "coffee",
                "quantity": 1,
                "unit_price": "12.50",
            },
            {
                "id": "L2",
                "sku": "FILTER-100",
                "category": "accessories",
                "quantity": 2,
                "unit_price": "2.70",
            },
        ],
    },
}
ORDER_REFUNDED = {
    "id": "evt_1003",
    "type": "order.refunded",
    "occurred_at": LATER,
    "customer": {"external_id": "cust_1042"},
    "data": {"order_id": "#1001", "amount": "42.25", "reason": "One bag arrived damaged"},
}
ORDER_REFUNDED_LINES = {
    "id": "evt_1006",
    "type": "order.refunded",
    "occurred_at": LATER,
    "customer": {"external_id": "cust_2001"},
    "data": {
        "order_id": "#1002",
        "amount": "12.50",
        "lines": [{"id": "L1", "quantity": 1}],
        "reason": "Wrong grind",
    },
}
ORDER_CANCELLED = {
    "id": "evt_1004",
    "type": "order.cancelled",
    "occurred_at": LATER,
    "customer": {"external_id": "cust_2001"},
    "data": {"order_id": "#1002", "reason": "Customer request"},
}
MEMBER_ENROLLED = {
    "id": "evt_1005",
    "type": "member.enrolled",
    "occurred_at": AT,
    "customer": {"external_id": "cust_3003", "email": "grace@example.com", "name": "Grace Hopper"},
    "data": {"source": "account", "birthday": "1990-12-09", "accepts_marketing": True},
}

# -- responses --------------------------------------------------------------------------------

PROGRAM = {
    **PROGRAM_IN,
    "rounding": "down",
    "auto_enroll": True,
    "timezone": "UTC",
    "version": 1,
    "published_at": AT,
}
EARN: dict[str, Any] = {
    "id": "01a20a43-54b7-76df-a679-4e08f88fce36",
    "kind": "earn",
    "asset": "points",
    "points": 84,
    "reason": "Order #1001",
    "order_id": "#1001",
    "event_id": "01a20a43-54ae-75b2-9773-0cdbeb0dfcfb",
    "program_version": 1,
    "detail": {
        "program_version": 1,
        "base": "84.50",
        "currency": "USD",
        "rate": "1",
        "points": 84,
        "raw": "84.5",
        "rounding": "down",
        "rules": [
            {
                "rule": "base",
                "name": "Points per unit of currency",
                "rate": "1",
                "points": 84,
                "lines": ["items"],
            }
        ],
        "account": "pending",
    },
    "entries": [{"account": "pending", "amount": 84}, {"account": "issued", "amount": -84}],
    "created_at": AT,
}
CLAW_BACK = {
    "id": "01a20a43-54e5-7336-b781-6a608117d0ba",
    "kind": "claw_back",
    "asset": "points",
    "points": -42,
    "reason": "Refund on order #1001",
    "order_id": "#1001",
    "event_id": "01a20a43-54dc-7703-8f94-41983da38252",
    "program_version": 1,
    "detail": {
        "order_points_earned": 84,
        "order_points_reversed_before": 0,
        "rules": {"base": 42},
        "program_version": 1,
        "from_pending": 42,
        "from_available": 0,
        "into_debt": 0,
    },
    "entries": [{"account": "pending", "amount": -42}, {"account": "issued", "amount": 42}],
    "created_at": LATER,
}
ADJUST = {
    "id": "01a20a43-552b-7130-b870-46bf4d69e7f9",
    "kind": "adjust",
    "asset": "points",
    "points": 200,
    "reason": "Welcome gift",
    "order_id": None,
    "event_id": None,
    "program_version": 1,
    "detail": {},
    "entries": [{"account": "available", "amount": 200}, {"account": "adjusted", "amount": -200}],
    "created_at": LATER,
}
PLACED_RESULT = {
    "id": "evt_1001",
    "type": "order.placed",
    "status": "applied",
    "duplicate": False,
    "member": "cust_1042",
    "enrolled": True,
    "points": 84,
    "message": "84 points for order #1001: 84.50 USD x 1 rounded down (program v1), pending "
    "until 2026-12-06",
    "postings": [EARN],
}
SECOND_ORDER_RESULT = {
    "id": "evt_1002",
    "type": "order.placed",
    "status": "applied",
    "duplicate": False,
    "member": "cust_2001",
    "enrolled": True,
    "points": 17,
    "message": "17 points for order #1002: 17.90 USD x 1 rounded down (program v1), pending "
    "until 2026-12-06",
    "postings": [
        {
            **EARN,
            "id": "01a20a43-54e5-7336-b781-6a5ecd34b34b",
            "points": 17,
            "reason": "Order #1002",
            "order_id": "#1002",
            "event_id": "01a20a43-54dc-7703-8f94-4197c327a427",
            "detail": {
                **EARN["detail"],
                "base": "17.90",
                "raw": "17.9",
                "points": 17,
                "rules": [
                    {
                        "rule": "base",
                        "name": "Points per unit of currency",
                        "rate": "1",
                        "points": 17,
                        "lines": ["L1", "L2"],
                    }
                ],
            },
            "entries": [
                {"account": "pending", "amount": 17},
                {"account": "issued", "amount": -17},
            ],
            "created_at": LATER,
        }
    ],
}
REFUND_RESULT = {
    "id": "evt_1003",
    "type": "order.refunded",
    "status": "applied",
    "duplicate": False,
    "member": "cust_1042",
    "enrolled": False,
    "points": -42,
    "message": "42 points taken back: 42.25 USD of 84.50 refunded, of the 84 the order earned",
    "postings": [CLAW_BACK],
}
MEMBER = {
    "external_id": "cust_1042",
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "birthday": "1990-12-10",
    "enrolled_via": "checkout",
    "status": "active",
    "accepts_marketing": True,
    "enrolled_at": AT,
    "updated_at": LATER,
    "points": {"available": 50, "pending": 42, "lifetime_earned": 42, "debt": 0},
    "stats": {
        "orders_count": 1,
        "total_spent": "42.25",
        "currency": "USD",
        "first_order_at": AT,
        "last_order_at": AT,
    },
}
NEW_MEMBER = {
    **MEMBER,
    "enrolled_via": "account",
    "enrolled_at": AT,
    "updated_at": AT,
    "points": {"available": 0, "pending": 0, "lifetime_earned": 0, "debt": 0},
    "stats": {
        "orders_count": 0,
        "total_spent": "0.00",
        "currency": "USD",
        "first_order_at": None,
        "last_order_at": None,
    },
}
MEMBER_UPSERT = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "birthday": "1990-12-10",
    "enrolled_via": "account",
    "accepts_marketing": True,
}
REDEMPTION = {
    "id": "01a20a43-553c-7041-a218-8d7bebe10c9d",
    "points": 150,
    "description": "$5 off order #1004",
    "transaction_id": "01a20a43-553a-73f9-a8a8-7223cc0cc677",
    "available": 50,
    "created_at": LATER,
    "replayed": False,
}


# -- problems the operations answer in their own words ----------------------------------------


def _problem(
    status: int, slug: str, title: str, detail: str, instance: str, field: str | None, **extra: Any
) -> dict[str, Any]:
    return problem(status, slug, title, detail, instance, field, **extra)


MEMBERS = "/v1/members/cust_1042"
NO_PROGRAM = ("no-program", "No program published")
NO_PROGRAM_DETAIL = "this shop has no published program yet: PUT /v1/program first"


def _no_program(instance: str) -> dict[str, Any]:
    return _problem(409, *NO_PROGRAM, NO_PROGRAM_DETAIL, instance, None)


def _no_draft(instance: str) -> dict[str, Any]:
    detail = "this shop has no draft of its program: save one with PUT /v1/program?draft=true"
    return _problem(404, "no-draft", "No draft", detail, instance, "draft")


DRAFT = {**PROGRAM, "based_on": 1, "saved_at": LATER}
for _read_only in ("version", "published_at"):
    DRAFT.pop(_read_only)


def _member_not_found(instance: str) -> dict[str, Any]:
    detail = "no member with external id 'cust_1042'"
    return _problem(404, "member-not-found", "Member not found", detail, instance, "external_id")


def _suspended(instance: str) -> dict[str, Any]:
    detail = "member 'cust_1042' is suspended: it earns and spends nothing"
    return _problem(409, "member-suspended", "Member suspended", detail, instance, "external_id")


def _merged(instance: str, field: str = "external_id", who: str = "cust_1042") -> dict[str, Any]:
    detail = (
        f"member '{who}' was merged into 'cust_3003': it earns and spends nothing, and its "
        "later events reach 'cust_3003'"
    )
    return _problem(
        409, "member-merged", "Member merged", detail, instance, field, merged_into="cust_3003"
    )


def _erased(instance: str) -> dict[str, Any]:
    detail = "member 'cust_1042' was erased: it earns and spends nothing"
    return _problem(409, "member-erased", "Member erased", detail, instance, "external_id")


def _invalid(instance: str, field: str, message: str) -> dict[str, Any]:
    return _problem(422, "invalid-input", "Invalid input", f"{field}: {message}", instance, field)


def _event_problems(instance: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    reused = "event id 'evt_1001' was sent before with different content"
    order = "order '#1001' was already reported by another event"
    total = (
        'must be a decimal string such as "42.50" (JSON numbers are refused so that no '
        "amount passes through a float)"
    )
    return {
        "409": [
            _problem(409, "event-id-reused", "Event id reused", reused, instance, f"{prefix}id"),
            _problem(
                409,
                "order-exists",
                "Order already reported",
                order,
                instance,
                f"{prefix}data.order_id",
            ),
            _no_program(instance),
        ],
        "422": [_invalid(instance, f"{prefix}data.total", total)],
    }


# What each operation shows: `request`, its body (or `requests`, named bodies); `responses`,
# a body per success status; `problems`, problem examples by status.
OPERATIONS: dict[str, dict[str, Any]] = {
    "healthz": {"responses": {"200": {"status": "ok", "version": "0.1.0"}}},
    "readyz": {
        "responses": {
            "200": {
                "status": "ready",
                "version": "0.1.0",
                "database": "postgresql",
                "revision": "0005",
            }
        },
        "problems": {
            "503": [
                _problem(
                    503,
                    "not-ready",
                    "Not ready",
                    "the database schema is at revision 0004; this version of Patron needs "
                    "0005: run `patron migrate`",
                    "/readyz",
                    "database",
                    revision="0004",
                    head="0005",
                )
            ]
        },
    },
    "get_program": {
        "responses": {"200": PROGRAM},
        "problems": {"409": [_no_program("/v1/program")]},
    },
    "get_draft": {
        "responses": {"200": DRAFT},
        "problems": {"404": [_no_draft("/v1/program/draft")]},
    },
    "discard_draft": {"problems": {"404": [_no_draft("/v1/program/draft")]}},
    "publish_draft": {
        "request": {"version": 1},
        "responses": {"200": {**PROGRAM, "version": 2}},
        "problems": {
            "404": [_no_draft("/v1/program/publish")],
            "409": [
                _problem(
                    409,
                    "program-changed",
                    "Program changed",
                    "this edit starts from version 1, but version 2 was published since: read "
                    "the program again and apply the edit to it",
                    "/v1/program/publish",
                    "version",
                )
            ],
        },
    },
    "list_versions": {
        "responses": {
            "200": {
                "items": [
                    {"version": 2, "name": "Bean Club", "rules": 1, "published_at": LATER},
                    {"version": 1, "name": "Bean Club", "rules": 0, "published_at": AT},
                ],
                "next_before": None,
            }
        }
    },
    "get_version": {"responses": {"200": PROGRAM}},
    "preview_event": {
        "requests": {"order.placed": ORDER_PLACED},
        "responses": {"200": {**PLACED_RESULT, "preview": True, "program_version": 1}},
        "problems": {
            "404": [_no_draft("/v1/events/preview")],
            "409": [_no_program("/v1/events/preview")],
        },
    },
    "publish_program": {
        "request": PROGRAM_IN,
        "responses": {"200": PROGRAM},
        "problems": {
            "409": [
                _problem(
                    409,
                    "program-changed",
                    "Program changed",
                    "this edit starts from version 1, but version 2 was published since: read "
                    "the program again and apply the edit to it",
                    "/v1/program",
                    "version",
                )
            ],
            "422": [_invalid("/v1/program", "currency", "'XYZ' is not an ISO 4217 currency code")],
        },
    },
    "put_member": {
        "request": MEMBER_UPSERT,
        "responses": {"200": MEMBER, "201": NEW_MEMBER},
        "problems": {
            "409": [_merged(MEMBERS), _erased(MEMBERS)],
            "422": [
                _invalid(
                    MEMBERS,
                    "email",
                    "value is not a valid email address: An email address must have an @-sign.",
                )
            ],
        },
    },
    "get_member": {
        "responses": {"200": MEMBER},
        "problems": {"404": [_member_not_found(MEMBERS)]},
    },
    "list_members": {
        "responses": {"200": {"items": [MEMBER], "next_cursor": CURSOR}},
        "problems": {
            "422": [_invalid("/v1/members", "cursor", "cursor is not one this API gave out")]
        },
    },
    "list_transactions": {
        "responses": {"200": {"items": [CLAW_BACK, EARN], "next_cursor": None}},
        "problems": {
            "404": [_member_not_found(f"{MEMBERS}/transactions")],
            "422": [
                _invalid(
                    f"{MEMBERS}/transactions",
                    "kind",
                    "String should match pattern '^(earn|vest|claw_back|write_off|adjust|"
                    "redeem|expire)$'",
                )
            ],
        },
    },
    "post_adjustment": {
        "request": {"points": 200, "reason": "Welcome gift"},
        "responses": {"201": {"transaction": ADJUST, "available": 200, "debt": 0}},
        "problems": {
            "404": [_member_not_found(f"{MEMBERS}/adjustments")],
            "409": [
                _problem(
                    409,
                    "insufficient-points",
                    "Insufficient points",
                    "the member has 50 points available; cannot remove 500 under the "
                    "program's forbid policy",
                    f"{MEMBERS}/adjustments",
                    "points",
                    available=50,
                ),
                _suspended(f"{MEMBERS}/adjustments"),
                _merged(f"{MEMBERS}/adjustments"),
                _no_program(f"{MEMBERS}/adjustments"),
            ],
            "422": [_invalid(f"{MEMBERS}/adjustments", "reason", "Field required")],
        },
    },
    "post_redemption": {
        "request": {"points": 150, "description": "$5 off order #1004"},
        "responses": {"201": REDEMPTION, "200": {**REDEMPTION, "replayed": True}},
        "problems": {
            "404": [_member_not_found(f"{MEMBERS}/redemptions")],
            "409": [
                _problem(
                    409,
                    "insufficient-points",
                    "Insufficient points",
                    "the member has 50 points available; 150000 needed",
                    f"{MEMBERS}/redemptions",
                    "points",
                    available=50,
                ),
                _problem(
                    409,
                    "idempotency-key-reused",
                    "Idempotency key reused",
                    "this Idempotency-Key was used for a different redemption",
                    f"{MEMBERS}/redemptions",
                    "Idempotency-Key",
                ),
                _suspended(f"{MEMBERS}/redemptions"),
                _merged(f"{MEMBERS}/redemptions"),
                _no_program(f"{MEMBERS}/redemptions"),
            ],
            "422": [_invalid(f"{MEMBERS}/redemptions", "points", "Input should be greater than 0")],
        },
    },
    "create_member_token": {
        "request": {"expires_in": 3600},
        "responses": {
            "201": {
                "token": "eyJhbGciOiJIUzI1NiIsImtpZCI6InBrXzFQdUhQWHQiLCJ0eXAiOiJKV1QifQ.eyJzdWIi"
                "OiJjdXN0XzEwNDIiLCJpYXQiOjE3OTUzNDI4MDAsImV4cCI6MTc5NTM0NjQwMH0.aqfvqFvRgKeBBl2y"
                "U-eo9Uv81Spn1wlnpCkpSrUOCWE",
                "external_id": "cust_1042",
                "expires_at": "2026-11-22T11:15:00Z",
                "key": "pk_1PuHPXt",
            }
        },
        "problems": {
            "422": [
                _invalid(
                    f"{MEMBERS}/tokens", "expires_in", "Input should be greater than or equal to 60"
                )
            ]
        },
    },
    "post_event": {
        "requests": {
            "order.placed": ORDER_PLACED,
            "order.placed with lines": ORDER_PLACED_WITH_LINES,
            "order.refunded": ORDER_REFUNDED,
            "order.refunded by line": ORDER_REFUNDED_LINES,
            "order.cancelled": ORDER_CANCELLED,
            "member.enrolled": MEMBER_ENROLLED,
        },
        "responses": {"201": PLACED_RESULT, "200": {**PLACED_RESULT, "duplicate": True}},
        "problems": _event_problems("/v1/events", ""),
    },
    "post_batch": {
        "request": {
            "events": [
                {**ORDER_PLACED_WITH_LINES, "occurred_at": LATER},
                ORDER_REFUNDED,
            ]
        },
        "responses": {"200": {"results": [SECOND_ORDER_RESULT, REFUND_RESULT]}},
        "problems": _event_problems("/v1/events/batch", "events.1."),
    },
    "erase_member": {
        "problems": {
            "404": [_member_not_found(MEMBERS)],
            "409": [
                _problem(
                    409,
                    "member-busy",
                    "Member busy",
                    "member 'cust_1042' was merged or erased meanwhile: send the request again",
                    MEMBERS,
                    "external_id",
                )
            ],
        }
    },
    "export_member": {"problems": {"404": [_member_not_found(f"{MEMBERS}/export")]}},
    "merge_member": {
        "problems": {
            "404": [
                _problem(
                    404,
                    "member-not-found",
                    "Member not found",
                    "no member with external id 'cust_2001'",
                    f"{MEMBERS}/merge",
                    "from",
                )
            ],
            "409": [
                _merged(f"{MEMBERS}/merge", "from", "cust_2001"),
                _problem(
                    409,
                    "idempotency-key-reused",
                    "Idempotency key reused",
                    "this Idempotency-Key was used for a different merge",
                    f"{MEMBERS}/merge",
                    "Idempotency-Key",
                ),
            ],
            "422": [_invalid(f"{MEMBERS}/merge", "from", "a member cannot be merged into itself")],
        }
    },
    "get_event": {
        "responses": {"200": PLACED_RESULT},
        "problems": {
            "404": [
                _problem(
                    404,
                    "event-not-found",
                    "Event not found",
                    "no event with id 'evt_1001'",
                    "/v1/events/evt_1001",
                    "event_id",
                )
            ]
        },
    },
}

# Examples for parameters that do not give their own, by name.
PARAMETERS: dict[str, Any] = {
    "cursor": CURSOR,
    "limit": 50,
    "kind": "earn",
    "email": "ada@example.com",
    "q": "cust_10",
    "Idempotency-Key": "checkout-7f3a",
}
# Descriptions for parameters that do not give their own, by name.
PARAMETER_DESCRIPTIONS: dict[str, str] = {
    "cursor": "Where the page starts: the `next_cursor` of the page before. Leave it out for "
    "the first page.",
    "Idempotency-Key": "A key of your own choosing, unique per intended operation (1 to 255 "
    "characters): a retry with the same key and body returns the first result and changes "
    "nothing again; the same key with another body is refused (409).",
}
