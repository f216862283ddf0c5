"""Draft autosave: a long form (the monthly insurance list) saved as it is typed.

Every typed field becomes a new local version, committed before the next keystroke
(`DraftStore`); the server gets the newest version every `autosave_every` fields (PUT
/drafts/{form}, keyed by the version, so a retried save is applied once). `restore` returns
the newest of the local and the server copy and pushes the local one up when the server
lags: neither a dropped link nor a killed process loses a typed field.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mock_services.common.clock import Now
from mock_services.lab.clients import http
from mock_services.lab.clients import portal_api as api
from mock_services.lab.clients.draft_store import DraftStore
from mock_services.lab.clients.replicas import ReplicaSet
from policies.presets import PolicySet
from scenario.history import History

VERSION_FIELD = "_local_version"  # travels inside the draft, so both copies compare


@dataclass(frozen=True, slots=True)
class DraftConfig:
    """Whose form, where it lives locally, where the portal is, how often it is saved."""

    portal_urls: Mapping[str, str]
    db_path: Path
    national_id: str
    password: str
    policies: PolicySet
    form_id: str = "insurance-list"
    autosave_every: int = 5  # fields typed between server saves


@dataclass(frozen=True, slots=True)
class Restored:
    """What `restore` found: the version, its fields, and where it came from."""

    version: int
    fields: dict[str, Any]
    source: str  # "local", "server" or "none"


class DraftClient:
    """The typing client of one person's form; use as an async context manager."""

    def __init__(self, config: DraftConfig, history: History, *, rng: random.Random,
                 clock: Now = time.monotonic) -> None:
        self.config = config
        self.history = history
        self.rng = rng
        self.clock = clock
        self.store = DraftStore(config.db_path)
        self.pipeline = config.policies.user.build("portal")
        self.process = f"typist-{config.national_id}"
        self._replicas = ReplicaSet(config.portal_urls)
        self._client: httpx.AsyncClient | None = None
        self._token: str | None = None
        self._saving: asyncio.Future[bool] | None = None

    async def __aenter__(self) -> DraftClient:
        self._client = httpx.AsyncClient(headers={"User-Agent": "chaoslab-draft"})
        await self._replicas.poll_once(self._client)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._saving is not None:
            self._saving.cancel()
        if self._client is not None:
            await self._client.aclose()
        self.store.close()

    async def _call(self, f: str, key: str, req: http.HttpRequest) -> http.Completion:
        assert self._client is not None, "use the client as an async context manager"
        invoked = self.history.invoke(self.process, f, self.clock(), key=key,
                                      priority=api.PRIORITY.get(f, -1))
        done = await http.call(self._client, self._replicas, self.pipeline, req,
                               clock=self.clock, rng=self.rng, sleep=asyncio.sleep)
        self.history.complete(invoked, done.type, self.clock(), value=done.value,
                              error=done.error)
        return done

    async def _login(self) -> str | None:
        if self._token is None:
            done = await self._call("login", "", api.login(self.config.national_id,
                                                           self.config.password))
            if done.type == "ok" and done.response is not None:
                self._token = done.response.json().get("token")
        return self._token

    async def type_fields(self, fields: list[tuple[str, Any]]) -> int:
        """Type `fields` one by one after whatever is saved; return the last local version.

        Each field is committed locally at once; the server copy is refreshed in the
        background every `autosave_every` fields, so a slow or dead link never holds up typing.
        """
        current = self.store.load(self.config.form_id)
        version = current.version if current else 0
        body = dict(current.body) if current else {}
        for name, value in fields:
            version += 1
            body[name] = value
            body[VERSION_FIELD] = version
            self.store.save(self.config.form_id, version, body, self.clock())
            saving = self._saving is not None and not self._saving.done()
            if version % self.config.autosave_every == 0 and not saving:
                self._saving = asyncio.ensure_future(self.sync())
        return version

    async def flush(self) -> bool:
        """Wait for the background save, then bring the server up to date; True if in step."""
        if self._saving is not None:
            await self._saving
        return await self.sync()

    async def sync(self) -> bool:
        """Upload the newest local version if the server lags; True when in step."""
        local = self.store.load(self.config.form_id)
        if local is None or not local.unsynced:
            return True
        token = await self._login()
        if token is None:
            return False
        key = f"draft-{self.config.national_id}-{self.config.form_id}-v{local.version}"
        done = await self._call("save_draft", key, api.save_draft(
            token, key, self.config.form_id, local.body))
        if done.type == "ok":
            self.store.acknowledged(self.config.form_id, local.version)
            return True
        return False

    async def restore(self) -> Restored:
        """The newest copy of the form (local or server); the server is brought up to date."""
        local = self.store.load(self.config.form_id)
        server: dict[str, Any] | None = None
        token = await self._login()
        if token is not None:
            done = await self._call("restore_draft", self.config.form_id,
                                    api.restore_draft(token, self.config.form_id))
            if done.type == "ok" and done.response is not None:
                data = done.response.json().get("data")
                server = data if isinstance(data, dict) else None
        server_version = int(server.get(VERSION_FIELD, 0)) if server else 0
        if local is not None and local.version >= server_version:
            await self.sync()
            return Restored(local.version, _fields(local.body), "local")
        if server is not None:
            self.store.save(self.config.form_id, server_version, server, self.clock())
            self.store.acknowledged(self.config.form_id, server_version)
            return Restored(server_version, _fields(server), "server")
        return Restored(0, {}, "none")


def _fields(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != VERSION_FIELD}


def insurance_list_fields(rng: random.Random, n_workers: int) -> list[tuple[str, Any]]:
    """The fields of a long insurance list in typing order: a header, then worker rows."""
    fields: list[tuple[str, Any]] = [("DSK_ID", f"{rng.randrange(10**9, 10**10)}"),
                                     ("DSK_YY", 4), ("DSK_MM", rng.randint(1, 12))]
    for i in range(n_workers):
        fields += [(f"w{i}.PER_NATCOD", f"{rng.randrange(10**10):010d}"),
                   (f"w{i}.DSW_DD", rng.randint(1, 31)),
                   (f"w{i}.DSW_ROOZ", rng.randint(3, 9) * 10**6)]
    return fields
