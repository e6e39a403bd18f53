"""The HTTP core: OAuth2, retries, deadline, import-POST safety, body replay."""

from __future__ import annotations

import asyncio
import logging
import threading
import urllib.parse

import httpx
import pytest
import respx

from norce_integration import (
    AmbiguousImportError,
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    ResponseValidationError,
    ServiceUnavailableError,
)
from norce_integration._async_http import AsyncHTTP
from norce_integration._sync_http import HTTP as SyncHTTP

from .conftest import CONNECT, QUERY, SECRET, TOKEN


def token_ok(value: str = "tok-1", expires_in: int = 3600) -> httpx.Response:
    return httpx.Response(
        200, json={"access_token": value, "token_type": "Bearer", "expires_in": expires_in}
    )


@pytest.fixture
def mock():
    with respx.mock(assert_all_called=False) as router:
        yield router


class TestToken:
    def test_form_post_exactly_as_documented(self, mock, norce_settings):
        token = mock.post(TOKEN).mock(return_value=token_ok())
        api = mock.get(QUERY + "Core/Currencies").mock(return_value=httpx.Response(200, json={}))
        http = SyncHTTP(norce_settings)
        http.request("GET", QUERY + "Core/Currencies")
        sent = token.calls.last.request
        assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
        assert urllib.parse.parse_qs(sent.content.decode()) == {
            "grant_type": ["client_credentials"],
            "client_id": ["client-1"],
            "client_secret": [SECRET],
            "scope": ["playground"],
        }
        assert "authorization" not in sent.headers
        assert api.calls.last.request.headers["authorization"] == "Bearer tok-1"

    def test_token_cached_until_shortly_before_expiry(self, mock, norce_settings, sleeper):
        token = mock.post(TOKEN).mock(side_effect=[token_ok("a", 3600), token_ok("b", 3600)])
        api = mock.get(QUERY + "x").mock(return_value=httpx.Response(200, json={}))
        http = SyncHTTP(norce_settings)
        for _ in range(5):
            http.request("GET", QUERY + "x")
        assert token.call_count == 1
        sleeper.now += 3600 - 61  # still inside the lifetime minus the 60 s skew
        http.request("GET", QUERY + "x")
        assert token.call_count == 1
        sleeper.now += 2
        http.request("GET", QUERY + "x")
        assert token.call_count == 2
        assert api.calls.last.request.headers["authorization"] == "Bearer b"

    def test_401_refreshes_once_and_retries_once(self, mock, norce_settings):
        token = mock.post(TOKEN).mock(side_effect=[token_ok("old"), token_ok("new")])
        api = mock.get(QUERY + "x").mock(
            side_effect=[httpx.Response(401), httpx.Response(200, json={"ok": True})]
        )
        http = SyncHTTP(norce_settings)
        assert http.json(http.request("GET", QUERY + "x")) == {"ok": True}
        assert token.call_count == 2
        assert [c.request.headers["authorization"] for c in api.calls] == [
            "Bearer old",
            "Bearer new",
        ]

    def test_persistent_401_raises_after_one_refresh(self, mock, norce_settings):
        token = mock.post(TOKEN).mock(side_effect=[token_ok("a"), token_ok("b")])
        api = mock.get(QUERY + "x").mock(return_value=httpx.Response(401))
        with pytest.raises(AuthenticationError):
            SyncHTTP(norce_settings).request("GET", QUERY + "x")
        assert token.call_count == 2
        assert api.call_count == 2

    def test_bad_credentials_error_has_no_secret(self, mock, norce_settings, caplog):
        mock.post(TOKEN).mock(
            return_value=httpx.Response(
                401, json={"error": "invalid_client", "client_secret": SECRET}
            )
        )
        caplog.set_level(logging.DEBUG)
        with pytest.raises(AuthenticationError) as info:
            SyncHTTP(norce_settings).request("GET", QUERY + "x")
        text = str(info.value) + repr(info.value) + info.value.body_excerpt
        assert "client-1" in text
        assert SECRET not in text
        assert SECRET not in caplog.text

    def test_token_429_is_backed_off_not_hammered(self, mock, norce_settings, sleeper):
        token = mock.post(TOKEN).mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "20"}),
                token_ok(),
            ]
        )
        mock.get(QUERY + "x").mock(return_value=httpx.Response(200, json={}))
        SyncHTTP(norce_settings).request("GET", QUERY + "x")
        assert token.call_count == 2
        assert sleeper.waits == [20.0]

    def test_one_refresh_at_a_time_across_threads(self, mock, norce_settings):
        gate = threading.Event()
        calls = []

        def slow_token(request):
            calls.append(1)
            gate.wait(2)
            return token_ok()

        mock.post(TOKEN).mock(side_effect=slow_token)
        mock.get(QUERY + "x").mock(return_value=httpx.Response(200, json={}))
        http = SyncHTTP(norce_settings)
        errors = []

        def worker():
            try:
                http.request("GET", QUERY + "x")
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        gate.set()
        for t in threads:
            t.join()
        assert not errors
        assert len(calls) == 1

    @pytest.mark.anyio
    async def test_one_refresh_at_a_time_across_tasks(self, mock, norce_settings):
        calls = []

        async def slow_token(request):
            calls.append(1)
            await asyncio.sleep(0.01)
            return token_ok()

        mock.post(TOKEN).mock(side_effect=slow_token)
        mock.get(QUERY + "x").mock(return_value=httpx.Response(200, json={}))
        http = AsyncHTTP(norce_settings)
        await asyncio.gather(*(http.request("GET", QUERY + "x") for _ in range(8)))
        await http.aclose()
        assert len(calls) == 1


class TestRetries:
    @pytest.fixture(autouse=True)
    def _token(self, mock):
        mock.post(TOKEN).mock(return_value=token_ok())

    def test_get_retries_5xx_and_429_with_retry_after(self, mock, norce_settings, sleeper):
        route = mock.get(QUERY + "x").mock(
            side_effect=[
                httpx.Response(503),
                httpx.Response(429, headers={"Retry-After": "7"}),
                httpx.Response(500),
                httpx.Response(200, json={"v": 1}),
            ]
        )
        http = SyncHTTP(norce_settings)
        assert http.json(http.request("GET", QUERY + "x")) == {"v": 1}
        assert route.call_count == 4
        assert sleeper.waits == [0.5, 7.0, 2.0]

    def test_retry_after_capped(self, mock, norce_settings, sleeper):
        mock.get(QUERY + "x").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "3600"}),
                httpx.Response(200, json={}),
            ]
        )
        SyncHTTP(norce_settings).request("GET", QUERY + "x")
        assert sleeper.waits == [60.0]

    def test_gives_up_after_max_attempts_with_typed_error(self, mock, norce_settings):
        route = mock.get(QUERY + "x").mock(return_value=httpx.Response(503, text="busy"))
        with pytest.raises(ServiceUnavailableError) as info:
            SyncHTTP(norce_settings).request("GET", QUERY + "x", params={"a": "1"})
        assert route.call_count == 4
        err = info.value
        assert err.status == 503
        assert err.method == "GET"
        assert err.url == QUERY + "x"
        assert "busy" in str(err)

    def test_overall_deadline_stops_retries(self, mock, norce_settings, sleeper):
        import attrs

        settings = attrs.evolve(
            norce_settings,
            retry=attrs.evolve(norce_settings.retry, max_attempts=50, deadline=10.0),
        )
        route = mock.get(QUERY + "x").mock(
            return_value=httpx.Response(429, headers={"Retry-After": "4"})
        )
        with pytest.raises(RateLimitError):
            SyncHTTP(settings).request("GET", QUERY + "x")
        assert sum(sleeper.waits) <= 10.0
        assert route.call_count == 3

    def test_per_attempt_timeout_shrinks_with_deadline(self, mock, norce_settings, sleeper):
        import attrs

        settings = attrs.evolve(
            norce_settings, retry=attrs.evolve(norce_settings.retry, deadline=5.0)
        )
        seen = []

        def record(request):
            seen.append(request.extensions["timeout"]["read"])
            return httpx.Response(200, json={})

        mock.get(QUERY + "x").mock(side_effect=record)
        sleeper.now = 0
        SyncHTTP(settings).request("GET", QUERY + "x")
        assert seen == [5.0]

    def test_client_errors_fail_fast(self, mock, norce_settings):
        route = mock.get(QUERY + "x").mock(return_value=httpx.Response(404))
        with pytest.raises(NotFoundError):
            SyncHTTP(norce_settings).request("GET", QUERY + "x")
        assert route.call_count == 1

    def test_connection_errors_retried_then_wrapped(self, mock, norce_settings):
        route = mock.get(QUERY + "x").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(APIConnectionError) as info:
            SyncHTTP(norce_settings).request("GET", QUERY + "x")
        assert route.call_count == 4
        assert isinstance(info.value.__cause__, httpx.ConnectError)

    def test_bad_json_is_a_validation_error(self, mock, norce_settings):
        mock.get(QUERY + "x").mock(return_value=httpx.Response(200, text="<html>"))
        http = SyncHTTP(norce_settings)
        with pytest.raises(ResponseValidationError):
            http.json(http.request("GET", QUERY + "x"))


class TestImportPostSafety:
    URL = CONNECT + "Product/ImportProducts"

    @pytest.fixture(autouse=True)
    def _token(self, mock):
        mock.post(TOKEN).mock(return_value=token_ok())

    @pytest.mark.parametrize("status", [500, 502, 504])
    def test_ambiguous_status_not_retried(self, mock, norce_settings, status):
        route = mock.post(self.URL).mock(return_value=httpx.Response(status))
        with pytest.raises(AmbiguousImportError, match="job may have been created") as info:
            SyncHTTP(norce_settings).request("POST", self.URL, kind="import", content=b"[]")
        assert route.call_count == 1
        assert info.value.status == status

    @pytest.mark.parametrize(
        "exc", [httpx.ReadTimeout("t"), httpx.RemoteProtocolError("r"), httpx.WriteError("w")]
    )
    def test_failure_after_send_is_ambiguous(self, mock, norce_settings, exc):
        route = mock.post(self.URL).mock(side_effect=exc)
        with pytest.raises(AmbiguousImportError):
            SyncHTTP(norce_settings).request("POST", self.URL, kind="import", content=b"[]")
        assert route.call_count == 1

    def test_connect_error_429_503_are_retried_and_replay_a_one_shot_stream(
        self, mock, norce_settings, sleeper
    ):
        bodies = []

        def record(request):
            bodies.append(request.read())
            if len(bodies) == 1:
                return httpx.Response(429, headers={"Retry-After": "1"})
            if len(bodies) == 2:
                return httpx.Response(503)
            return httpx.Response(200, json={"JobId": "5"})

        route = mock.post(self.URL).mock(
            side_effect=[httpx.ConnectError("refused"), record, record, record]
        )

        def one_shot():
            yield b"["
            yield b'{"a":1}'
            yield b"]"

        http = SyncHTTP(norce_settings)
        response = http.request("POST", self.URL, kind="import", content=one_shot())
        assert http.json(response) == {"JobId": "5"}
        assert route.call_count == 4
        assert bodies == [b'[{"a":1}]'] * 3

    def test_400_not_retried_and_names_the_problem(self, mock, norce_settings):
        mock.post(self.URL).mock(
            return_value=httpx.Response(400, json={"Message": "AccountId is required"})
        )
        with pytest.raises(BadRequestError, match="AccountId is required"):
            SyncHTTP(norce_settings).request("POST", self.URL, kind="import", content=b"[]")


class TestAsyncShell:
    @pytest.mark.anyio
    async def test_async_retries_and_replays_async_stream(self, mock, norce_settings, sleeper):
        mock.post(TOKEN).mock(return_value=token_ok())
        bodies = []

        def record(request):
            bodies.append(request.read())
            if len(bodies) == 1:
                return httpx.Response(503)
            return httpx.Response(200, json={"JobId": "9"})

        mock.post(CONNECT + "x").mock(side_effect=record)

        async def gen():
            yield b"[1,"
            yield b"2]"

        http = AsyncHTTP(norce_settings)
        response = await http.request("POST", CONNECT + "x", kind="import", content=gen())
        await http.aclose()
        assert http.json(response) == {"JobId": "9"}
        assert bodies == [b"[1,2]", b"[1,2]"]
        assert sleeper.waits == [0.5]

    @pytest.mark.anyio
    async def test_async_ambiguous_import(self, mock, norce_settings):
        mock.post(TOKEN).mock(return_value=token_ok())
        mock.post(CONNECT + "x").mock(return_value=httpx.Response(502))
        http = AsyncHTTP(norce_settings)
        with pytest.raises(AmbiguousImportError):
            await http.request("POST", CONNECT + "x", kind="import", content=b"[]")
        await http.aclose()


class TestNoHttpxErrorEscapes:
    @pytest.fixture(autouse=True)
    def _token(self, mock):
        mock.post(TOKEN).mock(return_value=token_ok())

    @pytest.mark.parametrize(
        "exc", [httpx.DecodingError("bad gzip"), httpx.TooManyRedirects("loop")]
    )
    def test_read_errors_are_wrapped(self, mock, norce_settings, exc):
        from norce_integration import APIError

        route = mock.get(QUERY + "x").mock(side_effect=exc)
        with pytest.raises(APIError) as info:
            SyncHTTP(norce_settings).request("GET", QUERY + "x")
        assert not isinstance(info.value, httpx.HTTPError)
        assert isinstance(info.value.__cause__, httpx.HTTPError)
        assert route.call_count == 1

    def test_import_read_error_is_ambiguous(self, mock, norce_settings):
        mock.post(CONNECT + "x").mock(side_effect=httpx.DecodingError("bad"))
        with pytest.raises(AmbiguousImportError):
            SyncHTTP(norce_settings).request("POST", CONNECT + "x", kind="import", content=b"[]")
