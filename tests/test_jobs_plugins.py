"""The jobs registry and plugin resolution: what a payload's class can run, and how plugins
chain."""

from __future__ import annotations

from typing import Any, ClassVar, cast

import pytest

from taskcore.errors import ConfigError
from taskcore.jobs import JobDefinition, Jobs
from taskcore.plugins.base import HookContext, Plugin, resolve_plugin, run_hooks


def add(a: int, b: int) -> int:
    return a + b


class Recorder(Plugin):
    """Records every hook call with the options it saw; stops when told to."""

    defaults: ClassVar[dict[str, Any]] = {"stop": False, "tag": "default"}
    log: ClassVar[list[tuple[str, str, int]]] = []

    async def before_perform(self) -> bool:
        self.log.append(("before_perform", self.options["tag"], id(self)))
        return not self.options["stop"]

    def after_enqueue(self) -> bool:  # type: ignore[override]  # sync hooks are accepted
        self.log.append(("after_enqueue", self.options["tag"], id(self)))
        return True


class Named(Plugin):
    name = "custom-name"
    log: ClassVar[list[str]] = []

    async def before_perform(self) -> bool:
        self.log.append("named")
        return True


class Boom(Plugin):
    async def before_enqueue(self) -> bool:
        raise RuntimeError("hook failed")


@pytest.fixture(autouse=True)
def clear_logs() -> None:
    Recorder.log.clear()
    Named.log.clear()


def context(job: JobDefinition) -> HookContext:
    return HookContext(func="add", queue="math", args=[1, 2], job=job, queue_api=cast(Any, None))


class TestJobs:
    def test_bare_functions_become_definitions(self) -> None:
        jobs = Jobs({"add": add})
        assert jobs["add"] == JobDefinition(add)
        assert list(jobs) == ["add"] and len(jobs) == 1

    def test_register_as_decorator_returns_the_function(self) -> None:
        jobs = Jobs()

        @jobs.register("sub", plugins=[Recorder], plugin_options={"Recorder": {"tag": "x"}})
        def sub(a: int, b: int) -> int:
            return a - b

        assert sub(3, 1) == 2
        assert jobs["sub"].perform is sub
        assert jobs["sub"].options_for("Recorder") == {"tag": "x"}

    def test_register_directly(self) -> None:
        jobs = Jobs()
        assert jobs.register("add", add) is add
        assert jobs["add"].perform is add

    def test_unknown_class_is_absent_not_imported(self) -> None:
        jobs = Jobs({"add": add})
        assert "os.system" not in jobs
        with pytest.raises(KeyError):
            jobs["os.system"]

    def test_empty_name_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="non-empty name"):
            Jobs({"": add})

    def test_perform_must_be_callable(self) -> None:
        with pytest.raises(ConfigError, match="callable"):
            JobDefinition(cast(Any, 42))

    def test_options_for_a_plugin_the_job_lacks_are_refused(self) -> None:
        with pytest.raises(ConfigError, match="retry") as info:
            JobDefinition(add, ("Retry",), {"retry": {"retry_limit": 2}})
        assert "case-sensitive" in str(info.value)

    def test_plugin_options_are_frozen_copies(self) -> None:
        options = {"tag": "a"}
        job = JobDefinition(add, (Recorder,), {"Recorder": options})
        options["tag"] = "changed"
        assert job.options_for("Recorder") == {"tag": "a"}
        with pytest.raises(TypeError):
            job.options_for("Recorder")["tag"] = "b"  # type: ignore[index]
        assert job.options_for("Other") == {}


class TestResolvePlugin:
    @pytest.mark.parametrize("name", ["JobLock", "QueueLock", "DelayQueueLock", "Retry", "Noop"])
    def test_builtin_names_resolve(self, name: str) -> None:
        cls = resolve_plugin(name)
        assert issubclass(cls, Plugin) and cls.plugin_name() == name

    def test_unknown_name_lists_the_builtins(self) -> None:
        with pytest.raises(ConfigError, match=r"unknown plugin 'os\.path'") as info:
            resolve_plugin("os.path")
        assert "DelayQueueLock, JobLock, Noop, QueueLock, Retry" in str(info.value)

    def test_plugin_classes_pass_through(self) -> None:
        assert resolve_plugin(Recorder) is Recorder

    @pytest.mark.parametrize("ref", [object, int, 42])
    def test_anything_else_is_refused(self, ref: Any) -> None:
        with pytest.raises(ConfigError, match="Plugin subclass"):
            resolve_plugin(ref)

    def test_plugin_name_defaults_to_the_class_name(self) -> None:
        assert Recorder.plugin_name() == "Recorder"
        assert Named.plugin_name() == "custom-name"
        JobDefinition(add, (Named,), {"custom-name": {}})


class TestRunHooks:
    async def test_hooks_run_in_listed_order_with_merged_options(self) -> None:
        job = JobDefinition(add, (Named, Recorder), {"Recorder": {"tag": "mine"}})
        assert await run_hooks("before_perform", context(job)) is True
        assert Named.log == ["named"]
        assert [entry[:2] for entry in Recorder.log] == [("before_perform", "mine")]

    async def test_false_stops_the_chain(self) -> None:
        job = JobDefinition(add, (Recorder, Named), {"Recorder": {"stop": True}})
        assert await run_hooks("before_perform", context(job)) is False
        assert Named.log == []

    async def test_a_fresh_instance_per_call_and_defaults_untouched(self) -> None:
        job = JobDefinition(add, (Recorder,))
        ctx = context(job)
        await run_hooks("before_perform", ctx)
        await run_hooks("after_enqueue", ctx)
        assert [entry[:2] for entry in Recorder.log] == [
            ("before_perform", "default"),
            ("after_enqueue", "default"),
        ]
        assert Recorder.defaults == {"stop": False, "tag": "default"}

    async def test_hooks_a_plugin_does_not_define_continue(self) -> None:
        job = JobDefinition(add, (Named,))
        assert await run_hooks("after_perform", context(job)) is True

    async def test_hook_exceptions_propagate(self) -> None:
        job = JobDefinition(add, (Boom, Recorder))
        with pytest.raises(RuntimeError, match="hook failed"):
            await run_hooks("before_enqueue", context(job))

    async def test_plugin_error_property_writes_through_to_the_context(self) -> None:
        ctx = context(JobDefinition(add))
        plugin = Plugin(ctx, {})
        ctx.error = ValueError("x")
        assert plugin.error is ctx.error
        plugin.error = None
        assert ctx.error is None
        assert (plugin.func, plugin.queue, plugin.args) == ("add", "math", [1, 2])
