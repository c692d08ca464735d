"""Random sequences of stock operations through the HTTP API, checked against a model.

Hypothesis drives receipts, online sales, transfers, adjustments (+/-), counts, replays of
earlier requests and refused requests against a fresh tenant per example, while a plain
Python model (Decimal levels per product and location) predicts every answer. After every
step the server's levels must equal the model, equal the sum of their movements, and never
be negative; a refused request (409/422) must have changed nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from tests.support import ServerProcess, Shop, ean13, ledger_drift, new_shop

Key = tuple[str, str]  # (product_id, location_id)
Prediction = tuple[int, dict[Key, Decimal]]  # expected status, the levels after it

PRODUCTS = 3
# A case of 2.5 kg: a fractional scan of it can land below the gram and must be refused.
CASE_FACTOR = Decimal("2.5")
QUANTUM = Decimal("0.001")

product_index = st.integers(0, PRODUCTS - 1)
place = st.sampled_from(("store", "warehouse"))
# How a line names its product: by id (base units), by unit barcode or by case barcode (scans).
spelling = st.sampled_from(("id", "id", "unit", "case"))
# Goods come in by the dozen and leave a few at a time, so that sales mostly succeed but
# levels still run down to zero; whole numbers make exact zeros likely.
incoming = st.one_of(st.integers(1, 30).map(Decimal), st.decimals(Decimal("0.001"), Decimal("30"), places=3))
outgoing = st.one_of(st.integers(1, 3).map(Decimal), st.decimals(Decimal("0.001"), Decimal("4"), places=3))
in_line = st.tuples(product_index, incoming, spelling)
# A sale line by barcode may leave out its quantity (one scan).
out_line = st.tuples(product_index, st.one_of(outgoing, st.none()), spelling)
move_line = st.tuples(product_index, outgoing, spelling)
delta = st.one_of(incoming, outgoing.map(lambda q: -q))
counted = st.one_of(st.just(Decimal(0)), outgoing, incoming)
# Mostly one line per product; a product counted twice in one count must be refused (422).
count_line = st.tuples(product_index, counted)


@dataclass
class Sent:
    """A request sent earlier, what it got, and how to predict it again if it was refused."""

    path: str
    body: dict[str, Any]
    status: int
    response: dict[str, Any]
    predict: Callable[[], Prediction]


class StockMachine(RuleBasedStateMachine):
    server_url = ""
    database_url = ""

    sent = Bundle("sent")

    @initialize()
    def open_shop(self) -> None:
        # A fresh tenant per example: examples never see each other's stock.
        self.shop: Shop = new_shop(self.server_url, self.database_url)
        self.places = {"store": self.shop.store, "warehouse": self.shop.warehouse}
        self.products: list[dict[str, str]] = []
        for _ in range(PRODUCTS):
            unit, case = ean13(), ean13("7")
            created = self.shop.product(unit="kg", price="3.000", barcodes=[
                {"barcode": unit}, {"barcode": case, "factor": str(CASE_FACTOR), "unit": "case"}])
            self.products.append({"id": created["id"], "unit": unit, "case": case})
        self.model: dict[Key, Decimal] = {}
        # Opening stock, so that sales and transfers succeed often enough to run levels down.
        for location, opening in ((self.shop.store, Decimal(25)), (self.shop.warehouse, Decimal(10))):
            for product in self.products:
                self.shop.receive(product["id"], opening, location)
                self.model[(product["id"], location)] = opening

    # --- building request lines and their base quantities ------------------------------------

    def ref(self, index: int, how: str) -> dict[str, str]:
        product = self.products[index]
        return {"product_id": product["id"]} if how == "id" else {"barcode": product[how]}

    @staticmethod
    def base(amount: Decimal | None, how: str) -> Decimal:
        """What a line amounts to in base units: scans times the barcode's factor."""
        given = Decimal(1) if amount is None else amount
        return given * CASE_FACTOR if how == "case" else given

    def pid(self, index: int) -> str:
        return self.products[index]["id"]

    @staticmethod
    def exact(quantity: Decimal) -> bool:
        return quantity == quantity.quantize(QUANTUM)

    # --- the model: what the server must answer, and the levels after ------------------------

    def after_deltas(self, deltas: list[tuple[Key, Decimal]]) -> Prediction:
        """Apply signed deltas all or nothing; online, a level may not go below zero."""
        merged: dict[Key, Decimal] = defaultdict(Decimal)
        for key, change in deltas:
            merged[key] += change
        levels = dict(self.model)
        for key, change in merged.items():
            levels[key] = levels.get(key, Decimal(0)) + change
            if change < 0 and levels[key] < 0:
                return 409, self.model
        return 201, levels

    def predict_sale(self, location: str, lines: list[tuple[int, Decimal | None, str]]) -> Prediction:
        bases = [self.base(q, how) for _, q, how in lines]
        if not all(self.exact(b) for b in bases):
            return 422, self.model
        return self.after_deltas([((self.pid(i), location), -b) for (i, _, _), b in zip(lines, bases, strict=True)])

    def predict_receipt(self, location: str, lines: list[tuple[int, Decimal, str]]) -> Prediction:
        bases = [self.base(q, how) for _, q, how in lines]
        if not all(self.exact(b) for b in bases):
            return 422, self.model
        return self.after_deltas([((self.pid(i), location), b) for (i, _, _), b in zip(lines, bases, strict=True)])

    def predict_transfer(self, source: str, destination: str, lines: list[tuple[int, Decimal, str]]) -> Prediction:
        bases = [self.base(q, how) for _, q, how in lines]
        if not all(self.exact(b) for b in bases):
            return 422, self.model
        moves = []
        for (i, _, _), b in zip(lines, bases, strict=True):
            moves += [((self.pid(i), source), -b), ((self.pid(i), destination), b)]
        return self.after_deltas(moves)

    def predict_adjustment(self, location: str, lines: list[tuple[int, Decimal, str]]) -> Prediction:
        bases = [self.base(d, how) for _, d, how in lines]
        if not all(self.exact(b) for b in bases):
            return 422, self.model
        return self.after_deltas([((self.pid(i), location), b) for (i, _, _), b in zip(lines, bases, strict=True)])

    def predict_count(self, location: str, lines: list[tuple[int, Decimal]]) -> Prediction:
        if len({i for i, _ in lines}) < len(lines):
            return 422, self.model  # the same product counted twice in one count is refused
        levels = dict(self.model)
        for i, counted in lines:
            levels[(self.pid(i), location)] = counted
        return 201, levels

    # --- sending, and checking the answer against the prediction -----------------------------

    def send(self, path: str, body: dict[str, Any], predict: Callable[[], Prediction]) -> Sent:
        status, levels = predict()
        response = self.shop.admin.post(path, body)
        assert response.status_code == status, (path, body, response.status_code, response.text)
        answer = response.json()
        if status == 201:
            self.check_reported_levels(answer, levels)
            self.model = levels
        elif status == 409:
            assert answer["error"]["code"] == "insufficient_stock", answer
            self.check_shortfalls(answer["error"]["details"]["lines"])
        else:
            assert answer["error"]["code"] in ("invalid_quantity", "invalid_request"), answer
        return Sent(path, body, status, answer, predict)

    def check_reported_levels(self, answer: dict[str, Any], levels: dict[Key, Decimal]) -> None:
        """Each line of a 201 reports the level it left, which is the model's level after."""
        location = answer["location_id"]
        for ln in answer["lines"]:
            reported = ln["stock_after"] if "stock_after" in ln else ln["quantity_after"]
            assert Decimal(reported) == levels[(ln["product_id"], location)], (answer, levels)

    def check_shortfalls(self, lines: list[dict[str, Any]]) -> None:
        """A 409 says, per short line, how much is available: what the model holds."""
        assert lines
        for short in lines:
            key = (short["product_id"], short["location_id"])
            available = self.model.get(key, Decimal(0))
            assert Decimal(short["available"]) == available
            assert Decimal(short["requested"]) > available

    @staticmethod
    def amount_text(value: Decimal | None) -> dict[str, str]:
        return {} if value is None else {"quantity": str(value)}

    # --- the operations ----------------------------------------------------------------------

    @rule(target=sent, where=place, lines=st.lists(in_line, min_size=1, max_size=3))
    def receive(self, where: str, lines: list[tuple[int, Decimal, str]]) -> Sent:
        location = self.places[where]
        body = {"id": str(uuid.uuid4()), "location_id": location,
                "lines": [{**self.ref(i, how), "quantity": str(q)} for i, q, how in lines]}
        return self.send("/receipts", body, lambda: self.predict_receipt(location, lines))

    @rule(target=sent, where=place, lines=st.lists(out_line, min_size=1, max_size=4))
    def sell(self, where: str, lines: list[tuple[int, Decimal | None, str]]) -> Sent:
        # A line by product_id needs a quantity; by barcode it defaults to one scan.
        lines = [(i, Decimal(1) if q is None and how == "id" else q, how) for i, q, how in lines]
        location = self.places[where]
        body = {"id": str(uuid.uuid4()), "location_id": location,
                "lines": [{**self.ref(i, how), **self.amount_text(q)} for i, q, how in lines]}
        return self.send("/sales", body, lambda: self.predict_sale(location, lines))

    @rule(target=sent, outward=st.booleans(), lines=st.lists(move_line, min_size=1, max_size=3))
    def transfer(self, outward: bool, lines: list[tuple[int, Decimal, str]]) -> Sent:
        source, destination = self.shop.store, self.shop.warehouse
        if not outward:
            source, destination = destination, source
        body = {"id": str(uuid.uuid4()), "from_location_id": source, "to_location_id": destination,
                "lines": [{**self.ref(i, how), "quantity": str(q)} for i, q, how in lines]}
        return self.send("/transfers", body, lambda: self.predict_transfer(source, destination, lines))

    @rule(target=sent, where=place, lines=st.lists(st.tuples(product_index, delta, spelling), min_size=1, max_size=3),
          reason=st.sampled_from(("waste", "damage", "theft", "correction")))
    def adjust(self, where: str, lines: list[tuple[int, Decimal, str]], reason: str) -> Sent:
        location = self.places[where]
        body = {"id": str(uuid.uuid4()), "location_id": location, "reason": reason,
                "lines": [{**self.ref(i, how), "delta": str(d)} for i, d, how in lines]}
        return self.send("/adjustments", body, lambda: self.predict_adjustment(location, lines))

    @rule(target=sent, where=place,
          lines=st.one_of(st.lists(count_line, min_size=1, max_size=3, unique_by=lambda ln: ln[0]),
                          st.lists(count_line, min_size=2, max_size=3)))
    def count(self, where: str, lines: list[tuple[int, Decimal]]) -> Sent:
        location = self.places[where]
        body = {"id": str(uuid.uuid4()), "location_id": location,
                "lines": [{"product_id": self.pid(i), "counted": str(c)} for i, c in lines]}
        return self.send("/counts", body, lambda: self.predict_count(location, lines))

    @rule(earlier=sent)
    def replay(self, earlier: Sent) -> None:
        """A till retrying: the same id and body again."""
        if earlier.status in (200, 201):
            # Recorded: answered again with the original document, nothing applied twice.
            response = self.shop.admin.post(earlier.path, earlier.body)
            assert response.status_code == 200, response.text
            assert response.json() == earlier.response
            return
        # Refused earlier, so nothing holds the id: the retry is judged on today's stock.
        again = self.send(earlier.path, earlier.body, earlier.predict)
        earlier.status, earlier.response = again.status, again.response

    @rule(earlier=sent, change=st.sampled_from(("1", "2.5")))
    def reuse_id_for_another_request(self, earlier: Sent, change: str) -> None:
        """The same client id with a different body is refused, whatever it was used for."""
        if earlier.status not in (200, 201):
            return
        body = {**earlier.body, "lines": [{**earlier.body["lines"][0], "quantity": change}]}
        body["lines"][0].pop("delta", None)
        body["lines"][0].pop("counted", None)
        key = {"/adjustments": "delta", "/counts": "counted"}.get(earlier.path, "quantity")
        body["lines"][0][key] = body["lines"][0].pop("quantity")
        if body == earlier.body:
            return
        response = self.shop.admin.post(earlier.path, body)
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "idempotency_conflict"

    @rule(i=product_index, kind=st.sampled_from(("zero", "too_fine", "same_place", "no_quantity")))
    def refused_input(self, i: int, kind: str) -> None:
        """Requests that fail validation: 422 and nothing written."""
        ident = str(uuid.uuid4())
        pid, store = self.pid(i), self.shop.store
        path, body = {
            "zero": ("/sales", {"id": ident, "location_id": store, "lines": [{"product_id": pid, "quantity": "0"}]}),
            "too_fine": ("/receipts", {"id": ident, "location_id": store,
                                       "lines": [{"product_id": pid, "quantity": "1.0005"}]}),
            "same_place": ("/transfers", {"id": ident, "from_location_id": store, "to_location_id": store,
                                          "lines": [{"product_id": pid, "quantity": "1"}]}),
            "no_quantity": ("/sales", {"id": ident, "location_id": store, "lines": [{"product_id": pid}]}),
        }[kind]
        response = self.shop.admin.post(path, body)
        assert response.status_code == 422, response.text

    # --- after every step ----------------------------------------------------------------------

    @invariant()
    def levels_match_model_and_ledger(self) -> None:
        if not hasattr(self, "shop"):
            return
        levels = self.server_levels()
        for key in levels.keys() | self.model.keys():
            assert levels.get(key, Decimal(0)) == self.model.get(key, Decimal(0)), (key, levels, self.model)
        assert all(q >= 0 for q in levels.values()), levels
        # Every level equals the sum of its movements, by the reconcile query. Only this tenant's
        # rows count: drift left by an earlier failing example must not make shrinking flaky.
        tenant = self.shop.tenant_id
        assert [d for d in ledger_drift(self.database_url) if str(d["tenant_id"]) == tenant] == []

    def teardown(self) -> None:
        if not hasattr(self, "shop"):
            return
        try:
            # The ledger as an integrator reads it (/movements) also sums to every level. Checked
            # once per example rather than per step: three more requests a step double the runtime.
            levels = self.server_levels()
            ledger: dict[Key, Decimal] = defaultdict(Decimal)
            for product in self.products:
                page = self.shop.admin.ok("GET", f"/products/{product['id']}/movements?limit=1000")
                assert page["next_before"] is None  # a bounded run never fills a page
                for m in page["movements"]:
                    ledger[(m["product_id"], m["location_id"])] += Decimal(m["delta"])
            for key in levels.keys() | ledger.keys():
                assert ledger.get(key, Decimal(0)) == levels.get(key, Decimal(0)), (key, ledger, levels)
        finally:
            self.shop.admin.http.close()

    def server_levels(self) -> dict[Key, Decimal]:
        rows = self.shop.admin.ok("GET", "/stock?limit=1000")["levels"]
        return {(r["product_id"], r["location_id"]): Decimal(r["quantity"]) for r in rows}


def test_random_operations_match_the_model(server: ServerProcess, app_database: str) -> None:
    class Machine(StockMachine):
        server_url = server.url
        database_url = app_database

    run_state_machine_as_test(Machine, settings=settings(
        max_examples=25, stateful_step_count=20, deadline=None, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.filter_too_much]))
