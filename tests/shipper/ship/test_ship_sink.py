"""The sink: pure encoder, bulk-response reader, template and distribution detection; retries and dead letters."""

from __future__ import annotations

import gzip
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from cronwatch.clock import FakeClock
from cronwatch.retry import Backoff
from cronwatch.testing.services import Process
from shipper.naming import doc_id, index_name, source_for_path
from shipper.sink.deadletter import DeadLetterFile
from shipper.sink.encoder import IndexNamer, encode_item, split_item
from shipper.sink.errors import BulkProtocolError, StoreRejected, StoreUnavailable
from shipper.sink.response import read_bulk_response
from shipper.sink.service import StoreService, auth_headers, parse_distribution
from shipper.sink.sink import BulkSink
from shipper.sink.template import index_template, mappings

pytestmark = pytest.mark.timeout(60)


def _item(i: int) -> bytes:
    return encode_item({"@timestamp": "2026-11-22T02:00:00.000Z", "message": f"m{i}"}, "t-2026.11.22", f"id{i}")


def test_encoded_item_round_trips() -> None:
    """An encoded bulk item is an index action with our id, then the document, each on one line."""
    item = _item(1)
    assert item.count(b"\n") == 2
    op, doc = split_item(item)
    assert op == {"_index": "t-2026.11.22", "_id": "id1"}
    assert doc["message"] == "m1"


def test_index_day_in_utc_and_in_a_zone() -> None:
    """The index day is the event's UTC day by default, and its local day with a configured zone."""
    doc = {"@timestamp": "2026-11-22T17:30:00.000Z"}
    assert index_name(doc, "cw") == "cw-2026.11.22"
    assert IndexNamer(ZoneInfo("Asia/Shanghai")).name("cw", doc) == "cw-2026.11.23"
    assert IndexNamer(ZoneInfo("America/New_York")).name("cw", {"@timestamp": "2026-11-22T03:00:00.000Z"}) == \
        "cw-2026.11.21"


def test_doc_id_is_deterministic_and_source_stable(tmp_path: Path) -> None:
    """The same file, offset and content give the same id; the file's source key does not depend on its name."""
    f = tmp_path / "a.log"
    f.write_text("hello\n")
    src = source_for_path(str(f))
    f.rename(tmp_path / "b.log")
    assert source_for_path(str(tmp_path / "b.log")) == src
    assert doc_id(src, 0, "hello") == doc_id(src, 0, "hello") != doc_id(src, 6, "hello")


def test_bulk_response_sorted_by_item_status() -> None:
    """2xx and 409 are indexed, 429/5xx retried, other 4xx dead-lettered with the reason."""
    statuses = [201, 200, 409, 429, 503, 400, 404]
    items = []
    for s in statuses:
        r: dict[str, object] = {"status": s}
        if s >= 400 and s != 409:
            r["error"] = {"type": "mapper_parsing_exception", "reason": f"bad {s}"}
        items.append({"index": r})
    v = read_bulk_response(orjson.dumps({"errors": True, "items": items}), len(items))
    assert v.acked == [0, 1, 2] and v.retry == [3, 4]
    assert [(i, s, e["reason"]) for i, s, e in v.dead] == [(5, 400, "bad 400"), (6, 404, "bad 404")]


def test_bulk_response_must_match_the_request() -> None:
    """A response with the wrong number of items (or not JSON) is a protocol error, never a silent ack."""
    with pytest.raises(BulkProtocolError):
        read_bulk_response(b'{"errors":false,"items":[]}', 2)
    with pytest.raises(BulkProtocolError):
        read_bulk_response(b"<html>", 1)


def test_template_extra_field_per_distribution() -> None:
    """``extra`` is flattened on Elasticsearch, flat_object on OpenSearch 2.7+, a disabled object before."""
    assert index_template("cw", "elasticsearch", (8, 15))["template"]["mappings"]["properties"]["extra"] == \
        {"type": "flattened"}
    assert mappings("opensearch", (3, 0))["properties"]["extra"] == {"type": "flat_object"}
    assert mappings("opensearch", (2, 5))["properties"]["extra"] == {"type": "object", "enabled": False}
    props = mappings()["properties"]
    assert props["@timestamp"] == {"type": "date"}
    assert props["error"]["properties"]["stack_trace"]["type"] == "text"
    for path in (("task", "name"), ("trace", "id"), ("log", "level")):
        assert props[path[0]]["properties"][path[1]]["type"] == "keyword"
    assert index_template("cw")["index_patterns"] == ["cw-*"]


def test_distribution_detection() -> None:
    """OpenSearch is told apart from Elasticsearch, and unsupported versions are refused with a reason."""
    assert parse_distribution({"version": {"number": "3.8.0", "distribution": "opensearch"}}).name == "opensearch"
    es = parse_distribution({"version": {"number": "8.15.1", "build_flavor": "default"}})
    assert (es.name, es.version) == ("elasticsearch", (8, 15, 1))
    with pytest.raises(StoreRejected, match="not supported"):
        parse_distribution({"version": {"number": "6.8.0"}})
    with pytest.raises(StoreRejected):
        parse_distribution({"name": "something else"})


def test_auth_headers_basic_and_api_key() -> None:
    """Basic auth and API keys become the right Authorization header."""
    assert auth_headers("u", "p", None) == {"Authorization": "Basic dTpw"}
    assert auth_headers(None, None, "id:key") == {"Authorization": "ApiKey aWQ6a2V5"}
    assert auth_headers(None, None, None) == {}


async def test_item_retries_and_dead_letters(tmp_path: Path) -> None:
    """429 items are retried alone until indexed, 400 items go to the dead-letter file, and the body is gzip."""
    calls: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-encoding"] == "gzip"
        lines = gzip.decompress(request.content).splitlines()
        ids = [orjson.loads(a)["index"]["_id"] for a in lines[::2]]
        calls.append(ids)
        items = []
        for i in ids:
            if i == "id1" and len(calls) < 3:
                items.append({"index": {"_id": i, "status": 429, "error": {"type": "es_rejected_execution_exception"}}})
            elif i == "id2":
                items.append({"index": {"_id": i, "status": 400, "error": {"type": "mapper_parsing_exception",
                                                                          "reason": "failed to parse [task.attempt]"}}})
            else:
                items.append({"index": {"_id": i, "status": 201}})
        return httpx.Response(200, json={"errors": True, "items": items})

    clock = FakeClock()
    service = StoreService(["http://store:9200"], transport=httpx.MockTransport(handler))
    dl = DeadLetterFile(tmp_path / "dl.ndjson")
    sink = BulkSink(service, dl, backoff=Backoff(initial=0.0, maximum=0.0), clock=clock)
    result = await sink.send([_item(0), _item(1), _item(2)])
    assert (result.indexed, result.dead) == (2, 1)
    assert calls == [["id0", "id1", "id2"], ["id1"], ["id1"]]
    (rec,) = dl.read()
    assert rec["_id"] == "id2" and rec["status"] == 400 and "task.attempt" in rec["error"]["reason"]
    assert rec["document"]["message"] == "m2"
    await service.close()


async def test_item_failing_with_5xx_is_dead_lettered_after_the_limit(tmp_path: Path) -> None:
    """An item the store keeps failing on with a 5xx goes to the dead-letter file after
    ``item_attempts`` answers in a row, with the reason; a 429 item is retried past that limit; a
    5xx item that recovers in time is indexed. Nothing else waits for the bad one for ever."""
    calls: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        lines = gzip.decompress(request.content).splitlines()
        ids = [orjson.loads(a)["index"]["_id"] for a in lines[::2]]
        calls.append(ids)
        items = []
        for i in ids:
            if i == "id0":  # always fails on this one
                items.append({"index": {"_id": i, "status": 500, "error": {"type": "illegal_state_exception",
                                                                          "reason": "shard failure"}}})
            elif i == "id1" and len(calls) <= 5:  # busy for longer than the 5xx limit
                items.append({"index": {"_id": i, "status": 429, "error": {"type": "es_rejected_execution_exception"}}})
            elif i == "id2" and len(calls) <= 2:  # a passing 503
                items.append({"index": {"_id": i, "status": 503, "error": {"type": "unavailable_shards_exception"}}})
            else:
                items.append({"index": {"_id": i, "status": 201}})
        return httpx.Response(200, json={"errors": True, "items": items})

    service = StoreService(["http://store:9200"], transport=httpx.MockTransport(handler))
    dl = DeadLetterFile(tmp_path / "dl.ndjson")
    sink = BulkSink(service, dl, backoff=Backoff(initial=0.0, maximum=0.0), clock=FakeClock(), item_attempts=3)
    result = await sink.send([_item(0), _item(1), _item(2), _item(3)])
    assert (result.indexed, result.dead) == (3, 1)
    assert calls[:3] == [["id0", "id1", "id2", "id3"], ["id0", "id1", "id2"], ["id0", "id1", "id2"]]
    assert calls[3:] == [["id1"], ["id1"], ["id1"]]
    (rec,) = dl.read()
    assert rec["_id"] == "id0" and rec["status"] == 500
    assert rec["error"]["reason"] == "shard failure" and rec["error"]["attempts"] == 3
    with pytest.raises(ValueError):
        BulkSink(service, dl, item_attempts=0)
    await service.close()


async def test_store_down_is_retried_until_it_answers(tmp_path: Path) -> None:
    """Connection errors and 503s for the whole request are retried (never dropped) until the store answers."""
    state = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        state["n"] += 1
        if state["n"] <= 3:
            raise httpx.ConnectError("connection refused")
        if state["n"] <= 5:
            return httpx.Response(503, text="unavailable")
        return httpx.Response(200, json={"errors": False, "items": [{"index": {"status": 201}}]})

    service = StoreService(["http://store:9200"], transport=httpx.MockTransport(handler), gzip=False)
    sink = BulkSink(service, DeadLetterFile(tmp_path / "dl"), backoff=Backoff(initial=0.0, maximum=0.0))
    result = await sink.send([_item(0)])
    assert (result.indexed, result.dead, result.retries) == (1, 0, 5)
    await service.close()


@pytest.mark.parametrize("refusal", [413, 400])
async def test_refused_request_is_split_to_isolate_the_culprit(tmp_path: Path, refusal: int) -> None:
    """A 413 or 400 for the whole request splits it in halves; the one document still refused is dead-lettered."""
    def handler(request: httpx.Request) -> httpx.Response:
        lines = request.content.splitlines()
        if (refusal == 413 and len(lines) > 2) or b"huge" in request.content:
            return httpx.Response(refusal, text="refused")
        return httpx.Response(200, json={"errors": False, "items": [{"index": {"status": 201}}] * (len(lines) // 2)})

    service = StoreService(["http://store:9200"], transport=httpx.MockTransport(handler), gzip=False)
    dl = DeadLetterFile(tmp_path / "dl")
    sink = BulkSink(service, dl, backoff=Backoff(initial=0.0, maximum=0.0))
    big = encode_item({"@timestamp": "2026-11-22T02:00:00.000Z", "message": "huge"}, "t-2026.11.22", "big")
    result = await sink.send([_item(0), _item(1), big, _item(3)])
    assert (result.indexed, result.dead) == (3, 1)
    (rec,) = dl.read()
    assert rec["_id"] == "big" and rec["status"] == refusal
    await service.close()


async def test_template_and_mapping_conflict_against_osmem(osmem: Process, tmp_path: Path) -> None:
    """Against the real store: the template is installed and a document that conflicts with it is dead-lettered."""
    service = StoreService([osmem.url])
    dist = await service.info()
    assert dist.name == "opensearch" and dist.version >= (3,)
    await service.put_template("sinktest-template", index_template("sinktest", dist.name, dist.version))
    dl = DeadLetterFile(tmp_path / "dl")
    sink = BulkSink(service, dl, backoff=Backoff(initial=0.0, maximum=0.0))
    good = encode_item({"@timestamp": "2026-11-22T02:00:00.000Z", "task": {"attempt": 2}, "extra": {"a": {"b": 1}}},
                       "sinktest-2026.11.22", "good")
    bad = encode_item({"@timestamp": "2026-11-22T02:00:00.000Z", "task": {"attempt": "two"}},
                      "sinktest-2026.11.22", "bad")
    result = await sink.send([good, bad])
    assert (result.indexed, result.dead) == (1, 1)
    assert dl.read()[0]["error"]["type"] == "mapper_parsing_exception"
    mapping = (await service.request("GET", "/sinktest-2026.11.22/_mapping")).json()
    assert mapping["sinktest-2026.11.22"]["mappings"]["properties"]["extra"]["type"] == "flat_object"
    await service.close()


async def test_tls_is_verified_against_the_configured_ca(tmp_path: Path) -> None:
    """A store with a private CA is reached with ``ca_file`` and refused without it; credentials are sent."""
    import ssl

    import trustme
    from aiohttp import web

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    seen: list[str] = []

    async def root(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({"version": {"number": "8.15.0"}})

    app = web.Application()
    app.router.add_get("/", root)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"https://127.0.0.1:{port}"
    try:
        trusted = StoreService([url], ca_file=str(ca_file), headers=auth_headers("elastic", "pw", None))
        assert (await trusted.info()).name == "elasticsearch"
        await trusted.close()
        assert seen == ["Basic ZWxhc3RpYzpwdw=="]
        untrusted = StoreService([url])
        with pytest.raises(StoreUnavailable, match="store unreachable"):
            await untrusted.info()
        await untrusted.close()
    finally:
        await runner.cleanup()
