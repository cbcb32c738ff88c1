"""A pool of Ray actors that outlives its nodes: lost actors are replaced, waits are bounded.

Ray itself can restart an actor (`max_restarts`), but a restarted actor waits for room on the
cluster for as long as it takes, and the calls queued on it fail with `ActorUnavailableError`
while its node is being declared dead. The pool therefore never lets Ray restart an actor: it
kills what it lost, starts a new actor in its place (on whichever node has room, including one
that joins later, which is how an autoscaler's new node gets used), and hands the lost shards
back to the engine. Every wait has a bound: with no actor running for `wait_s`, the run stops
with an error that says to resume; with some running, it goes on with fewer and says so.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ray

from ..errors import SummarizeError

log = logging.getLogger(__name__)

# Ray's exceptions for an actor, worker, node or object lost (not for an error raised by our code).
# ActorUnavailableError (a RayActorError) is what calls get while a lost node is not yet declared
# dead: the call may or may not have run, which is safe here (a shard's parts have fixed names).
_LOST_NAMES = ("RayActorError", "WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OutOfMemoryError",
               "LocalRayletDiedError", "ActorUnschedulableError", "RuntimeEnvSetupError")
LOST: tuple[type[BaseException], ...] = tuple(getattr(ray.exceptions, n) for n in _LOST_NAMES if hasattr(ray.exceptions, n))


class WorkerError(SummarizeError):
    """Ray could not finish a shard (workers died too often, or none could start)."""


@dataclass
class Member:
    """One actor of the pool.

    Attributes:
        handle: The Ray actor handle.
        since: When it was asked for (monotonic seconds).
        starting: The reference its `ready()` answers on; None once it has answered.
        node: The Ray node it runs on (known once it has started).
        tasks: (reference, shard) of the calls sent to it and not yet collected, oldest first;
            an actor runs its calls one at a time in this order, so the first is the one running.
    """

    handle: Any
    since: float
    starting: Any = None
    node: str = ""
    tasks: list[tuple[Any, int]] = field(default_factory=list)


class ActorPool:
    """`size` actors made by `spawn`, kept at that size as far as the cluster has room.

    Attributes:
        spawn: Makes one new actor (its class and resources bound by the engine).
        size: Actors wanted (`--workers`).
        wait_s: How long the run waits for an actor to start: with none running it then stops
            (`WorkerError`); with fewer than `size` running it goes on with them and logs so.
        per_actor: Calls queued on one actor at a time (one running, the rest waiting in its
            queue, so it never idles while the driver commits).
        lost: Actors lost during the run.
        started: Actors that started (replacements included).
    """

    def __init__(self, spawn: Callable[[], Any], size: int, *, wait_s: float, per_actor: int = 2,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.spawn, self.size, self.wait_s, self.per_actor, self.clock = spawn, size, wait_s, per_actor, clock
        self.members: list[Member] = []
        self.lost = 0
        self.started = 0
        self._failures_in_row = 0
        self._short_since: float | None = clock()
        self._said_short = False
        self._fill()

    def _fill(self) -> None:
        while len(self.members) < self.size:
            handle = self.spawn()
            self.members.append(Member(handle, self.clock(), handle.ready.remote()))

    @property
    def running(self) -> list[Member]:
        return [m for m in self.members if m.starting is None]

    def free(self) -> Member | None:
        """The running actor with the fewest calls queued, if one has room for another."""
        room = [m for m in self.running if len(m.tasks) < self.per_actor]
        return min(room, key=lambda m: len(m.tasks)) if room else None

    def submit(self, member: Member, shard: int, *args: Any) -> Any:
        ref = member.handle.process.remote(*args)
        member.tasks.append((ref, shard))
        return ref

    def refs(self) -> list[Any]:
        """Everything worth waiting on: calls in flight and actors starting."""
        return [r for m in self.members for r, _ in m.tasks] + [m.starting for m in self.members if m.starting]

    def _owner(self, ref: Any) -> Member | None:
        for m in self.members:
            if m.starting == ref or any(r == ref for r, _ in m.tasks):
                return m
        return None

    def collect(self, ref: Any) -> tuple[int | None, Any, list[int]]:
        """Handle one ready reference: (shard, its result, []) for a finished call; (None, None,
        shards) when the actor was lost, `shards` being the calls it held, oldest (the one it was
        running) first; (None, None, []) for an actor that started or a reference no longer ours."""
        member = self._owner(ref)
        if member is None:
            return None, None, []
        if member.starting == ref:
            try:
                where = ray.get(ref)
            except LOST as exc:
                return None, None, self._drop(member, exc)
            member.starting, member.node = None, str(where.get("node", ""))
            self.started += 1
            log.info("Ray worker %d of %d ready on node %s", len(self.running), self.size, member.node[:12],
                     extra={"fields": {"node": member.node, "pid": where.get("pid"), "workers": len(self.running)}})
            self._check_full()
            return None, None, []
        shard = next(s for r, s in member.tasks if r == ref)
        try:
            result = ray.get(ref)
        except LOST as exc:
            return None, None, self._drop(member, exc)
        member.tasks = [(r, s) for r, s in member.tasks if r != ref]
        self._failures_in_row = 0
        return shard, result, []

    def _drop(self, member: Member, exc: BaseException) -> list[int]:
        """Forget a lost actor (killed, so that a half-alive one cannot go on), start another."""
        self.members.remove(member)
        with contextlib.suppress(Exception):  # an actor whose node is gone may refuse even this
            ray.kill(member.handle, no_restart=True)
        self.lost += 1
        self._failures_in_row += 1
        shards = [s for _, s in member.tasks]
        first = str(exc).splitlines()[0] if str(exc) else ""
        log.warning("lost a Ray worker%s (%s: %s); %d of %d running, a replacement is starting%s",
                    f" on node {member.node[:12]}" if member.node else "", type(exc).__name__, first[:200],
                    len(self.running), self.size, f"; shards {shards} go back to the queue" if shards else "",
                    extra={"fields": {"node": member.node, "error": type(exc).__name__, "shards": shards,
                                      "workers": len(self.running)}})
        if self._failures_in_row > 2 * self.size + 3:
            raise WorkerError(f"Ray workers keep dying before finishing a shard ({self._failures_in_row} in a row, last: "
                              f"{type(exc).__name__}: {first[:200]}); the shards before are written, rerun with --resume")
        if self._short_since is None:
            self._short_since = self.clock()
        self._fill()
        return shards

    def _check_full(self) -> None:
        if len(self.running) == self.size:
            if self._said_short:
                log.warning("back to %d Ray workers", self.size, extra={"fields": {"workers": self.size}})
            self._short_since, self._said_short = None, False

    def check(self, done: int) -> None:
        """Bound every wait: stop when no actor has run for `wait_s`, say so when fewer than
        `size` have (`done`: shards written so far, for the message)."""
        if self._short_since is None:
            return
        waited = self.clock() - self._short_since
        if waited < self.wait_s:
            return
        running = len(self.running)
        if running == 0:
            raise WorkerError(
                f"no Ray worker could start within {self.wait_s:.0f} s (the cluster has no room for one, or its "
                f"nodes are gone); {done} shard(s) are written, rerun with --resume to continue "
                "(--ray-wait sets how long to wait)")
        if not self._said_short:
            self._said_short = True
            log.warning("going on with %d of %d Ray workers: no other could start within %.0f s (it joins when the "
                        "cluster has room)", running, self.size, self.wait_s,
                        extra={"fields": {"workers": running, "wanted": self.size}})

    def finished(self) -> None:
        """At the end of a run that never had `size` actors and ended before `wait_s` said so:
        say it now, so a user who asked for more workers than the cluster had room for learns it."""
        running = len(self.running)
        if self._short_since is not None and not self._said_short and 0 < running < self.size:
            self._said_short = True
            log.warning("finished with %d of %d Ray workers: no other could start during the run", running, self.size,
                        extra={"fields": {"workers": running, "wanted": self.size}})

    def close(self, settle_s: float = 10.0) -> None:
        """Kill every actor (those still starting too) and wait, bounded, for their calls to end,
        so that nothing they would write lands after the caller cleans up."""
        refs = [r for m in self.members for r, _ in m.tasks]
        for m in self.members:
            with contextlib.suppress(Exception):  # already gone
                ray.kill(m.handle, no_restart=True)
        self.members = []
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=settle_s, fetch_local=False)
