"""The :class:`Simulator`: dataset + HTTP server + faults + ground truth behind one object."""

from __future__ import annotations

import threading
from types import TracebackType

from .auth import Keys, make_keys
from .config import SimConfig
from .dataset import Dataset
from .faults import FaultInjector
from .hooks import Hooks
from .http_types import RequestLog
from .ratelimit import RateLimiter
from .routes import App
from .server import SimHTTPServer
from .truth import Truth


class Simulator:
    """A local PostHog API: build with a config, then ``start()`` (or use ``with``).

    Attributes:
        config: The configuration used.
        data: Dataset with the mutation API (thread-safe; shares its lock with requests).
        truth: Ground truth per stream (``ids(name)``, ``records(name)``).
        keys: ``valid``, ``missing_scope``, ``other_project`` and ``project_scoped`` keys.
        faults: Fault injector (``script``, ``profile``, ``injected``).
        hooks: ``before_page(path_prefix, callback)`` test hooks.
        requests: Log of served requests (``RequestRecord``), ``clear()`` to reset.
    """

    def __init__(self, config: SimConfig | None = None) -> None:
        """Generate the dataset; the server does not listen until :meth:`start`."""
        self.config = config or SimConfig()
        self.data = Dataset(self.config)
        self.truth = Truth(self.data)
        self.keys: Keys
        self.keys, key_table = make_keys(
            self.config.seed, self.data.other_project_id, self.data.project_id
        )
        fault_seed = (
            self.config.fault_seed if self.config.fault_seed is not None else self.config.seed
        )
        self.faults = FaultInjector(self.config.fault_profile, fault_seed)
        self.hooks = Hooks()
        self.requests = RequestLog()
        limiter = RateLimiter(
            self.config.time_scale,
            enabled=self.config.rate_limits,
            persons_user_limits=self.config.persons_user_rate_limits,
            legacy_query=self.config.legacy_query_rate_limit,
        )
        self._app = App(self.data, key_table, self.faults, self.hooks, limiter)
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Simulator:
        """Listen on 127.0.0.1 (``config.port``, 0 = ephemeral) in a background thread."""
        if self._server is not None:
            return self
        self._server = SimHTTPServer(self.config.port, self._app, self.requests)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"posthog-sim:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close open connections (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        """Stop and release the in-memory database."""
        self.stop()
        self.data.close()

    def __enter__(self) -> Simulator:
        """Start on entry."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop on exit."""
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (raises if not started)."""
        if self._server is None:
            raise RuntimeError("simulator is not running; call start()")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_key(self) -> str:
        """Valid personal API key with every scope."""
        return self.keys.valid

    @property
    def project_id(self) -> int:
        """The main project."""
        return self.data.project_id

    @property
    def other_project_id(self) -> int:
        """Second project of the same organization."""
        return self.data.other_project_id

    @property
    def forbidden_project_id(self) -> int:
        """Project of an organization the keys cannot access."""
        return self.data.forbidden_project_id
